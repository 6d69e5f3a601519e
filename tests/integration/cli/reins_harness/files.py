"""Files of a test: its config and what its services wrote."""
import json
import os


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def read(path, default=None):
    """The text of a file (bytes that are not UTF-8 as U+FFFD: logs keep what services wrote)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def toml_cmd(argv):
    return "[" + ", ".join(toml_str(a) for a in argv) + "]"
