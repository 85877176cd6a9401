"""Login tokens and RTC tokens.

Login tokens are opaque random strings; the store keeps only their SHA-256, so a copy of the database
signs no one in (256 random bits need no salt or slow hash). RTC tokens are what the real service
would get from its RTC vendor: here an HMAC-SHA256 over app id, channel, uid and expiry with a secret
kept in the database, so tokens issued before a restart still verify after it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta

from softphone.api import format_timestamp


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def hash_login_token(token: str) -> str:
    """What the store keeps of a login token, and looks it up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_hex(32)


_CLAIMS = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
"""Compact, keys sorted; made once (``json.dumps`` with options builds an encoder per call, on every start
and accept)."""


class RtcSigner:
    """Issues and verifies ``<base64url claims>.<hex hmac>`` tokens."""

    def __init__(self, app_id: str, secret: str, lifetime: timedelta) -> None:
        self._app_id = app_id
        self._key = secret.encode()
        self._lifetime = lifetime

    def issue(self, channel: str, uid: str, now: datetime) -> tuple[str, datetime]:
        """A token for ``uid`` on ``channel`` and the moment it expires."""
        expire_at = (now + self._lifetime).replace(microsecond=0)
        claims = _CLAIMS.encode(
            {"app_id": self._app_id, "channel": channel, "uid": uid, "exp": format_timestamp(expire_at)}
        ).encode()
        body = base64.urlsafe_b64encode(claims).decode().rstrip("=")
        return f"{body}.{self._sign(body)}", expire_at

    def verify(self, token: str, channel: str, uid: str, now: datetime) -> bool:
        """True when the token was signed here for this channel and uid and has not expired."""
        body, _, signature = token.partition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return False
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return (
            claims["app_id"] == self._app_id
            and claims["channel"] == channel
            and claims["uid"] == uid
            and claims["exp"] > format_timestamp(now)
        )

    def _sign(self, body: str) -> str:
        return hmac.digest(self._key, body.encode(), "sha256").hex()
