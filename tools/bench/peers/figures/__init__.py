"""The figures, in the order of the table."""

from figures import crashloop, idle, ready, restart, status, stop

ALL = [idle, restart, crashloop, status, ready, stop]
BY_NAME = {f.NAME: f for f in ALL}
