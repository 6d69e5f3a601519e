"""`python3 tools/bench/peers ...`: see main.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import main  # noqa: E402  (after the path is set)

sys.exit(main.main(sys.argv[1:]))
