"""Keep native libraries' log lines off the user's terminal.

TensorFlow, XLA and friends write to file descriptors 1 and 2 from C++
("Unable to register cuDNN factory", absl pre-init warnings) no matter what
Python's logging says, so the only reliable fix is to point those descriptors
at a file while they run. What they wrote is kept for error messages.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


class CapturedOutput:
    """What native code printed while :func:`captured_output` was active."""

    def __init__(self) -> None:
        self.text = ""

    def tail(self, lines: int = 5) -> str:
        """The last non-empty lines, joined with ' | ' so they fit in one error line."""
        kept = [line.strip() for line in self.text.splitlines() if line.strip()]
        return " | ".join(kept[-lines:])


@contextmanager
def captured_output() -> Iterator[CapturedOutput]:
    """Redirect fds 1 and 2 to a temporary file for the duration of the block."""
    result = CapturedOutput()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield result
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            result.text = sink.read().decode("utf-8", "replace")
