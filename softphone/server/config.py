"""Everything a simulator instance is configured with, in one place: every server-side limit lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from softphone.server.directory import BUNDLED_DIRECTORY

if TYPE_CHECKING:
    from softphone.api import FaultSettings

MEMORY_DB = ":memory:"


def default_db_path() -> Path:
    """``softphone.db`` in the user's data directory, created on first use."""
    return platformdirs.user_data_path("softphone", ensure_exists=True) / "softphone.db"


def _no_faults() -> FaultSettings:
    """The default faults, none: built on first use, so the ``softphone`` command's options, which show
    this class's defaults, load no wire model."""
    from softphone.api import FaultSettings

    return FaultSettings()


@dataclass(frozen=True)
class ServerConfig:
    """``db`` is a SQLite path or ``:memory:``; ``ring_timeout`` is whole seconds, as on the wire."""

    db: str = MEMORY_DB
    ring_timeout: int = 30
    # An answered call ends as ``abandoned`` once neither party has been heard from for this long.
    abandon_timeout: float = 60.0
    directory: Path = BUNDLED_DIRECTORY
    # Users ``u0001``… (ids from 100001) added to the directory, for load tests.
    generated_users: int = 0
    # Look like the real service from outside: documented routes, health, docs and dev tools only,
    # and no *ext* field in any answer.
    documented_only: bool = False
    # The RTC app id every call answers with; the real service hands out a 16-character id too.
    app_id: str = "softphonesim0001"
    rtc_token_lifetime: timedelta = field(default=timedelta(hours=2))
    # A login token is refused this long after it was issued (and at once after a logout).
    token_ttl: timedelta = field(default=timedelta(days=1))
    # Off, the Host header must name a loopback host (DNS rebinding); on, anyone who reaches the
    # server is served, which is what --allow-remote asks for.
    allow_remote: bool = False
    # A request body, or a push frame from a client, over this many bytes is refused unread.
    max_body_bytes: int = 64 * 1024
    # Push connections: beyond these the handshake is refused (42901).
    max_push_per_user: int = 1_000
    max_push_per_server: int = 10_000
    # Frames waiting for one push connection; a subscriber that falls this far behind is cut off.
    push_outbox_frames: int = 256
    faults: FaultSettings = field(default_factory=_no_faults)
