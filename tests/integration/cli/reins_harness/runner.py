"""Runs the test_* functions of a test script, each in a fresh temp dir
cleaned up after it."""
import shutil
import sys
import tempfile
import time
import traceback

from .checks import check, failures
from .cleanup import cleanup, running_test
from .command import FIXTURE, ONLY, REINS


def main(module_globals, doc=""):
    if not REINS or not FIXTURE:
        print(f"usage: {sys.argv[0]} PATH/TO/reins PATH/TO/reins-fixture [TEST...]", file=sys.stderr)
        sys.exit(2)
    tests = [(k, v) for k, v in module_globals.items() if k.startswith("test_") and callable(v)]
    if ONLY:
        tests = [(k, v) for k, v in tests if k in ONLY]
    t_all = time.monotonic()
    for name, t in tests:
        d = tempfile.mkdtemp(prefix="reins-cli-")
        running_test.update(dir=d, pids=set(), popens=[])
        n = len(failures)
        t0 = time.monotonic()
        try:
            t(d)
        except Exception:
            check(False, f"{name} raised:\n{traceback.format_exc()}")
        finally:
            try:
                cleanup(d)
            except Exception:
                print(f"warning: cleanup of {name} raised:\n{traceback.format_exc()}", file=sys.stderr)
            shutil.rmtree(d, ignore_errors=True)
        print(("ok  " if len(failures) == n else "FAIL") + f" {name} ({time.monotonic() - t0:.1f}s)", flush=True)
    print(f"{len(tests)} tests, {len(failures)} failed checks, {time.monotonic() - t_all:.1f}s")
    sys.exit(1 if failures else 0)
