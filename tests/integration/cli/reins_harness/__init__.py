"""Shared helpers of the black-box tests of the real `reins` binary.

The test scripts are run as `python3 X_test.py PATH/TO/reins PATH/TO/reins-fixture`.
Each test gets a fresh temporary directory (its cwd and the home of its
`.reins` state directory); whatever the test started is stopped afterwards
even when it failed: `reins stop`, then SIGKILL to every process that is
ours — found by pid (state.json with a matching start time, reins.pid,
processes we spawned) and by the test's unique temp dir (in the cmdline or
as cwd), never by name.

The names the test scripts use, from the modules of this package:
checks (check, failures), command (running reins), files, processes (by
pid, from /proc), cleanup (what a test started), foreground (`reins run`
with its output), loopback and control_api (the sockets), daemon (its state
dir, a start that must succeed) and runner (main).
"""
from .checks import check, failures, sanitizer_clean
from .cleanup import cleanup, running_test, track
from .command import FIXTURE, ONLY, REINS, env_for, reins, show
from .control_api import ApiReply, EventStream, api, dechunk, unix_connect
from .daemon import api_config, service, start_ok, starts_recorded, state_json, status_json, supervisor_pid
from .files import read, toml_cmd, toml_str, write
from .foreground import READY_RX, STARTED_RX, Fg, ready_lines, run_fg
from .loopback import http_get, port_free
from .processes import (alive, children_of, cmdline, daemons_of, keepers_of, kill_with_keeper, ours, proc_stat,
                        rss_kib, start_time, wait_for, wait_gone)
from .runner import main
