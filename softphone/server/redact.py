"""Tokens never reach the log in full: a filter for uvicorn's loggers.

A push client that cannot set headers puts its token in the URL (``/api/ws?token=...``), and uvicorn
logs every request line and WebSocket handshake with its query string.
"""

from __future__ import annotations

import logging
import re

from softphone.api import redact_token

TOKEN_IN_QUERY = re.compile(r"(token=)([^&\s\"']+)", re.IGNORECASE)
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with every ``token=<value>`` cut to its first few characters (the one redaction of tokens)."""
    return TOKEN_IN_QUERY.sub(lambda match: match[1] + redact_token(match[2]), text)


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
