#!/usr/bin/env python3
"""reins embedded the way an application embeds it: as a Meson subproject.

usage: consumer_test.py REPO_ROOT WORK_DIR FIXTURE [MESON NINJA]

Two consumer projects are configured and built with --wrap-mode=nodownload,
their subprojects/reins a symlink to REPO_ROOT (what a checkout, a git
submodule or a vendored copy gives a real consumer):

- tests/consumer: the whole library through dependency('reins'); it
  supervises FIXTURE through SupervisorThread. Checked: reins configured its
  library layers and nothing else (no CLI, test, tool, example, benchmark,
  no libreins); the program prints the port, answers, stops, exits 0, and
  no process it started is left.
- tests/consumer/runtime-only: dependency('reins-async') with layers=async;
  checked: llhttp, nlohmann-json, RE2 and toml++ were not even looked up.

WORK_DIR is stable (inside the build folder) so ccache stays warm from one
run to the next. Each step prints its duration.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

ROOT, WORK, FIXTURE = (os.path.abspath(a) for a in sys.argv[1:4])
MESON = sys.argv[4] if len(sys.argv) > 4 else "meson"
NINJA = sys.argv[5] if len(sys.argv) > 5 else "ninja"
HERE = os.path.join(ROOT, "tests", "consumer")

LAYERS = {"reins-async", "reins-http", "reins-supervisor", "reins-config", "reins-control"}
# Libraries of reins' own dependencies it may build (llhttp from Debian's C sources).
DEPENDENCY_LIBS = {"llhttp_bundled"}
UNWANTED_DEPS = ("nlohmann", "json", "toml", "re2", "llhttp")

# Compiles of the subproject share the cache across checkouts (tools/dev sets the same).
ENV = dict(os.environ)
ENV.setdefault("CCACHE_BASEDIR", ROOT)
ENV.setdefault("CCACHE_NOHASHDIR", "1")


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def run(argv, what, timeout=1500, **kw):
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, env=kw.pop("env", ENV), **kw)
    print(f"  {what}: {time.monotonic() - t0:.1f} s (exit {p.returncode})", flush=True)
    if p.returncode != 0:
        raise Failed(f"{what} failed (exit {p.returncode}): {' '.join(argv)}\n{p.stdout[-6000:]}")
    return p.stdout


def sync_file(src, dst):
    """Copies src to dst unless dst already has the same bytes (keeps ninja's view unchanged)."""
    with open(src, "rb") as f:
        data = f.read()
    try:
        with open(dst, "rb") as f:
            if f.read() == data:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(data)


def prepare(name, source):
    """A copy of a consumer project in WORK/name/src (reins linked in), its build folder.

    Every consumer has the same layout, so reins' sources are at the same
    relative path from each build folder and their compiles share ccache
    entries (a layer compiled for one consumer is a hit for the next).
    """
    src = os.path.join(WORK, name, "src")
    for rel in ("meson.build", "main.cpp", os.path.join("subprojects", "reins.wrap")):
        sync_file(os.path.join(source, rel), os.path.join(src, rel))
    link = os.path.join(src, "subprojects", "reins")
    if os.path.islink(link) and os.readlink(link) != ROOT:
        os.unlink(link)
    if not os.path.lexists(link):
        os.symlink(ROOT, link)
    return src, os.path.join(WORK, name, "build")


def configure_and_build(name, source):
    src, bld = prepare(name, source)
    print(f"{name}:", flush=True)
    if not os.path.isfile(os.path.join(bld, "build.ninja")):
        shutil.rmtree(bld, ignore_errors=True)  # a setup that failed half-way
        run([MESON, "setup", bld, src, "--wrap-mode=nodownload", "-Dbuildtype=debug", "-Dwerror=true"],
            "meson setup")
    # ninja reconfigures by itself when a meson.build (reins' too) changed.
    run([NINJA, "-C", bld, "-j2"], "build")
    return bld


def introspect(bld, what):
    import json
    return json.loads(run([MESON, "introspect", bld, "--" + what], "introspect --" + what, timeout=120))


def reins_targets(bld):
    return [t for t in introspect(bld, "targets") if t.get("subproject") == "reins"]


def holders_of(token):
    """Pids of the processes whose environment carries token."""
    pids = []
    needle = ("CONSUMER_TEST_TOKEN=" + token).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_whole_library():
    bld = configure_and_build("full", HERE)

    targets = reins_targets(bld)
    names = {t["name"] for t in targets}
    check(names >= LAYERS, f"reins' library layers were not all configured: {sorted(names)}")
    extra = [f"{t['name']} ({t['type']})" for t in targets if t["name"] not in LAYERS | DEPENDENCY_LIBS]
    check(not extra, "reins as a subproject configured more than its library: " + ", ".join(extra))
    check(all(t["type"] == "static library" for t in targets),
          "reins as a subproject configured a non-static target: "
          + ", ".join(f"{t['name']} ({t['type']})" for t in targets if t["type"] != "static library"))
    tests = introspect(bld, "tests") + introspect(bld, "benchmarks")
    check(not tests, "tests configured in the consumer: " + ", ".join(t["name"] for t in tests))

    token = uuid.uuid4().hex
    env = dict(ENV, CONSUMER_TEST_TOKEN=token)  # inherited by the fixture: finds leftovers
    exe = os.path.join(bld, "consumer")
    t0 = time.monotonic()
    p = subprocess.run([exe, FIXTURE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=90, env=env)
    print(f"  consumer: {time.monotonic() - t0:.1f} s (exit {p.returncode})", flush=True)
    try:
        check(p.returncode == 0, f"consumer exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        m = re.search(r"^running on port (\d+) \(pid (\d+)\)$", p.stdout, re.M)
        check(m, f"no 'running on port N (pid P)' line:\n{p.stdout}")
        port, pid = int(m.group(1)), int(m.group(2))
        check(0 < port < 65536 and pid > 0, f"odd port or pid: {m.group(0)}")
        check("GET /health: 200" in p.stdout and p.stdout.rstrip().endswith("stopped"),
              f"unexpected output:\n{p.stdout}\nstderr:\n{p.stderr}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (gone(pid) and not holders_of(token)):
            time.sleep(0.05)
        check(gone(pid), f"the fixture (pid {pid}) is still running after the consumer exited")
        left = holders_of(token)
        check(not left, f"processes started by the consumer are still running: {left}")
        check(port_free(port), f"port {port} is still taken after the consumer exited")
    finally:
        for leftover in holders_of(token):
            try:
                os.kill(leftover, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_runtime_only():
    bld = configure_and_build("runtime", os.path.join(HERE, "runtime-only"))

    deps = [d["name"] for d in introspect(bld, "dependencies")]
    bad = [d for d in deps if any(u in d.lower() for u in UNWANTED_DEPS)]
    check(not bad, f"layers=async configured dependencies it does not need: {bad}")
    with open(os.path.join(bld, "meson-logs", "meson-log.txt"), encoding="utf-8", errors="replace") as f:
        looked_up = [line.strip() for line in f
                     if "dependency" in line.lower() and any(u in line.lower() for u in UNWANTED_DEPS)]
    check(not looked_up, "layers=async still looked up: " + "; ".join(looked_up[:5]))
    names = sorted(t["name"] for t in reins_targets(bld))
    check(names == ["reins-async"], f"layers=async configured more than reins-async: {names}")

    out = run([os.path.join(bld, "runtime-consumer")], "runtime-consumer", timeout=30)
    check("slept on the reins runtime" in out, f"unexpected output: {out}")


def main():
    os.makedirs(WORK, exist_ok=True)
    failed = 0
    for test in (test_whole_library, test_runtime_only):
        t0 = time.monotonic()
        try:
            test()
            print(f"ok {test.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
        except (Failed, subprocess.TimeoutExpired) as e:
            failed += 1
            print(f"FAIL {test.__name__}: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
