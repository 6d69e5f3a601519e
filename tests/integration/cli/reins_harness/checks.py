"""Checks of a test: a failed one is recorded and printed, the test goes on."""
import re
import sys

failures = []  # what failed, over every test of the script

SANITIZER_RX = re.compile(r"ERROR: \w+Sanitizer|runtime error:")
# UBSan's vptr check probes the object's memory through a pipe(); a process
# out of file descriptors (the open-file-limit tests do that on purpose)
# cannot make one, and the check then reports a valid object as having an
# invalid vptr — always with "<memory cannot be printed>", which a real
# invalid vptr never shows (its memory is readable).
VPTR_PROBE_FAILED_RX = re.compile(r"[^\n]*runtime error: member call on address 0x[0-9a-f]+ which does not point to an "
                                  r"object of type '[^']*'\n0x[0-9a-f]+: note: object has invalid vptr\n"
                                  r"<memory cannot be printed>\n?")


def sanitizer_clean(text, what):
    """Fails the test when a sanitizer reported something in `text` (ASan/UBSan builds)."""
    text = VPTR_PROBE_FAILED_RX.sub("", text or "")
    m = SANITIZER_RX.search(text)
    if m:
        check(False, f"sanitizer report in {what}: {text[m.start():m.start() + 1200]}")
    return not m


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr, flush=True)
    return cond
