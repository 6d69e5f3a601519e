"""The binaries under test (the test script's command line) and `reins` run to its end."""
import os
import subprocess
import sys

from .checks import check, sanitizer_clean

REINS = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ""
FIXTURE = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else ""
ONLY = sys.argv[3:]  # optional: names of tests to run


def env_for(extra=None):
    e = dict(os.environ)
    e["NO_COLOR"] = "1"
    e.pop("REINS_STATE_DIR", None)
    e.pop("NOTIFY_SOCKET", None)
    e.update(extra or {})
    return e


def reins(args, cwd, timeout=60, env=None, preexec=None):
    """Runs reins to its end; a hang is a failed check, not a blocked test run."""
    try:
        r = subprocess.run([REINS] + args, cwd=cwd, env=env_for(env), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL, preexec_fn=preexec)
        sanitizer_clean(r.stderr, f"reins {' '.join(args)}")
        return r
    except subprocess.TimeoutExpired as e:
        check(False, f"reins {' '.join(args)} did not end within {timeout}s")
        return subprocess.CompletedProcess(e.cmd, -999, _text(e.stdout), _text(e.stderr))


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def show(r):
    return f"exit {r.returncode}; stdout={r.stdout[-1500:]!r}; stderr={r.stderr[-1500:]!r}"
