"""Everything a simulator instance is configured with, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from softphone.server.directory import BUNDLED_DIRECTORY

MEMORY_DB = ":memory:"


@dataclass(frozen=True)
class ServerConfig:
    """``db`` is a SQLite path or ``:memory:``; ``ring_timeout`` is whole seconds, as on the wire."""

    db: str = MEMORY_DB
    ring_timeout: int = 30
    directory: Path = BUNDLED_DIRECTORY
    # The RTC app id every call answers with; the real service hands out a 16-character id too.
    app_id: str = "softphonesim0001"
    rtc_token_lifetime: timedelta = field(default=timedelta(hours=2))
