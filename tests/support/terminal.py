"""A real ``softphone`` process in a terminal of its own (a pty), read as a terminal would read it.

The process gets the pty as its controlling terminal (as a shell's child would), so closing the
terminal sends it SIGHUP; a reader thread keeps draining what it draws, since a pty nobody reads
blocks the app's writes.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ESCAPES = re.compile(rb"\x1b(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78cDEHM])")
"""Terminal escape sequences (CSI, OSC, charset and single-character ones): cut, they leave the drawn text."""


def _controlling_terminal() -> None:
    """In the child, after setsid: make the pty on stdin its controlling terminal, as a shell's would be."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@dataclass
class InTerminal:
    process: subprocess.Popen[bytes]
    master: int
    output: bytearray = field(default_factory=bytearray)
    reader: threading.Thread | None = None

    def text(self) -> str:
        """Everything drawn so far with the escape sequences cut: words drawn in one go read whole."""
        return ESCAPES.sub(b"", bytes(self.output)).decode("utf-8", errors="replace")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait_for_text(self, words: str, timeout: float = 15.0) -> None:
        """Until ``words`` have been drawn; ``TimeoutError`` with the end of the screen's text if not."""
        deadline = time.monotonic() + timeout
        while words not in self.text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{words!r} not drawn within {timeout}s; last drawn: {self.text()[-1500:]!r}")
            if self.process.poll() is not None:
                raise AssertionError(f"exited with {self.process.returncode} before drawing {words!r}: {self.text()[-1500:]!r}")
            time.sleep(0.05)  # polling interval: the loop waits on what is drawn

    def close_terminal(self) -> None:
        """What closing a terminal window does: its side of the pty goes away."""
        os.close(self.master)
        self.master = -1

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output.extend(chunk)

    def stop(self) -> None:
        """Kill the process if it is still running, close the terminal, and stop reading."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.master >= 0:
            self.close_terminal()
        if self.reader is not None:
            self.reader.join(timeout=5)


def open_in_terminal(
    command: Sequence[str], *, size: tuple[int, int] = (120, 36), env: Mapping[str, str] | None = None
) -> InTerminal:
    """Start ``command`` on a new pty of ``size`` (columns, rows); ``stop()`` it when done."""
    master, slave = os.openpty()
    columns, rows = size
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        list(command),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
        env={**(env if env is not None else os.environ), "TERM": "xterm-256color"},
    )
    os.close(slave)
    terminal = InTerminal(process, master)
    terminal.reader = threading.Thread(target=terminal._drain, name="pty-reader", daemon=True)
    terminal.reader.start()
    return terminal
