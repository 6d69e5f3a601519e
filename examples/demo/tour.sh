#!/usr/bin/env bash
# The tour `tools/dev demo` runs: start the three demo services in the
# background, look at them (the worker's sd_notify STATUS= is in the STATUS
# column), restart one, read the logs, stop everything.
# Usage: examples/demo/tour.sh PATH/TO/reins
set -euo pipefail
reins=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "${BASH_SOURCE[0]}")"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }
trap '"$reins" stop >/dev/null 2>&1 || true' EXIT

step "$reins" start
step "$reins" status
api=$(python3 -c 'import json; print(json.load(open("site/config.json"))["api"])')
web=$("$reins" status --json | python3 -c 'import json,sys; s={x["name"]:x for x in json.load(sys.stdin)["services"]}; print("http://127.0.0.1:%d" % s["web"]["port"])')
get() { python3 -c 'import sys, urllib.request as u; r = u.urlopen(sys.argv[1]); print(r.status, r.read(200).decode(errors="replace").splitlines()[0])' "$1"; }
step get "$api/api/hello"
step get "$web/"
step "$reins" restart api
step "$reins" logs -n 4 api
step "$reins" stop
trap - EXIT
printf '\nTry it in the foreground (Ctrl-C stops them all): %s run -c %s/reins.toml\n' "$reins" "$(pwd)" >&2
