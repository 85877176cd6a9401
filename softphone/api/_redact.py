"""Tokens cut short wherever a person or a log could read them: the one redaction helper.

A bearer token (from ``--token`` or the dev login) signs in as its user, and an RTC token joins a
call's channel, so neither is ever shown or logged in full: the status line, timeline exports, the
app's log and the simulator's access log all pass text through :func:`redact`, and show a token
the user needs to tell apart from another with :func:`short_token`.
"""

from __future__ import annotations

import re

SHOWN_CHARACTERS = 4
"""How much of a token stays readable, so two log lines or two sign-ins can still be told apart."""
ELLIPSIS = "…"

# ``token=abc`` (a query string, a repr), ``"rtc_token": "abc"`` (JSON, a dict's repr), and
# ``Bearer abc`` (an Authorization header, as websockets logs its handshake at debug level). A key
# needs ``=`` or a quote before its colon, so prose such as "this token: ..." is left alone.
_TOKEN_VALUE = re.compile(
    r"""(?P<key>\b\w*token(?:["']\s*:|\s*=)\s*["']?|\bBearer\s+)(?P<value>[^\s"'&,;)}\]]+)""",
    re.IGNORECASE,
)


def short_token(token: str) -> str:
    """The first few characters of ``token`` and an ellipsis: enough to recognise, not to use.

    A token not much longer than what would be shown is shown as the ellipsis alone.
    """
    if len(token) <= 2 * SHOWN_CHARACTERS:
        return ELLIPSIS
    return f"{token[:SHOWN_CHARACTERS]}{ELLIPSIS}"


def redact(text: str) -> str:
    """``text`` with every token value in it (query, JSON, header) cut to :func:`short_token`."""
    return _TOKEN_VALUE.sub(lambda match: match["key"] + short_token(match["value"]), text)
