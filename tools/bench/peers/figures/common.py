"""What every figure uses: a supervisor session, results, the child's options."""

import contextlib
import statistics

from workspace import log


class NA:
    """A figure a supervisor cannot give (tini has no restart): a finding."""

    def __init__(self, reason):
        self.reason = reason


class Value:
    """A number for the table; `lower` is better unless said otherwise."""

    def __init__(self, number, text=None, detail=None):
        self.number = number
        self.text = text        # shown instead of the number (still compared by it)
        self.detail = detail    # goes into the notes under the table


@contextlib.contextmanager
def session(peer_class, ws, label):
    """A supervisor in a fresh folder, shut down and cleaned up whatever happens."""
    peer = peer_class(ws, ws.folder(f"{peer_class.name}-{label}"))
    log(f"{peer_class.name}: {label}")
    try:
        yield peer
    finally:
        peer.shutdown()


def median(values):
    return statistics.median(values) if values else None


def ms(seconds):
    return seconds * 1000.0
