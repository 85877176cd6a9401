"""Tokens never reach the log in full: a filter for uvicorn's loggers.

A push client that cannot set headers puts its token in the URL (``/api/ws?token=...``), and uvicorn
logs every request line and WebSocket handshake with its query string. The cutting itself is
:func:`softphone.api.redact`, the one helper the phone's status line, exports and log use too.
"""

from __future__ import annotations

import logging

from softphone.api import redact

UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


class RedactTokens(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def redact_uvicorn_logs() -> None:
    """Install the filter on the loggers uvicorn writes request lines to (after uvicorn configured them)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
            logger.addFilter(RedactTokens())
