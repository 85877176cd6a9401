"""The phone's log file: where it is, and a handler that never writes a token in full.

Testers read this file when something went wrong, and attach it to bug reports, so every line passes
through :func:`softphone.api.redact` on its way out (tracebacks included): a token in a URL, a JSON
body or an ``Authorization`` header that httpx or websockets logs at debug level is cut short.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import platformdirs

from softphone.api import redact

LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LOG_LEVEL = "info"
LOG_BYTES = 2_000_000
LOG_BACKUPS = 2


def app_log_path() -> Path:
    """``softphone.log`` in the user log directory (beside the background simulator's log)."""
    return platformdirs.user_log_path("softphone") / "softphone.log"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then cuts every token in the finished line (message, arguments, traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def start_file_log(path: Path, level: str = DEFAULT_LOG_LEVEL) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to ``path`` (rotated), tokens cut short."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
