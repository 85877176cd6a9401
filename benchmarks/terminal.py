"""Real app processes on pseudo-terminals: start them, press keys, and time what appears on screen.

A screen "shows" a text when what the app wrote since a moment contains it once the terminal's control
sequences (colours, cursor moves) are taken out: Textual writes each changed line whole, but a line's
words change colour in the middle ("Call id " grey, "7" bold).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence

COLUMNS, ROWS = 120, 40
READ_CHUNK = 65536
CONTROL_SEQUENCE = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")
"""An ANSI CSI sequence: a colour, a cursor move, a mode switch."""


class Terminal:
    """One process on its own pseudo-terminal, with everything it wrote kept in order."""

    def __init__(self, command: Sequence[str]) -> None:
        controller, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(command),
            stdin=child,
            stdout=child,
            stderr=child,
            start_new_session=True,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)},
        )
        os.close(child)
        self._fd = controller
        self.output = bytearray()

    def press(self, key: bytes) -> int:
        """Send a key; returns the output offset at that moment, for ``wait_for(..., since=...)``."""
        self.pump()
        os.write(self._fd, key)
        return len(self.output)

    def wait_for(self, text: bytes, since: int = 0, timeout: float = 10.0) -> float:
        """The ``perf_counter`` time at which ``text`` had appeared in the output after offset ``since``."""
        deadline = time.perf_counter() + timeout
        while text not in CONTROL_SEQUENCE.sub(b"", self.output[since:]):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"{text!r} did not appear within {timeout}s")
            self.pump(remaining)
        return time.perf_counter()

    def pump(self, wait: float = 0.0) -> None:
        """Read what the app wrote, waiting at most ``wait`` seconds for the first bytes."""
        ready, _, _ = select.select([self._fd], [], [], wait)
        while ready:
            try:
                self.output += os.read(self._fd, READ_CHUNK)
            except OSError:  # the app exited and closed its side
                return
            ready, _, _ = select.select([self._fd], [], [], 0)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        os.close(self._fd)
