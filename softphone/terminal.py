"""What a terminal has before it signs in: an id of its own for this run, and the clock it reads.

Apart from the controller (:mod:`softphone.session`, which uses them) so that the phone can show its
terminal id on its first screen, painted before the controller and the wire models load.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_terminal_id(kind: str) -> str:
    """Unique per run (``tui-1a2b3c``, ``cli-...``, ``bot-...``), so two runs of one user are two terminals."""
    return f"{kind}-{secrets.token_hex(3)}"
