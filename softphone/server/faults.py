"""Faults on demand: a bad network, seeded, so a run that showed a problem can be run again.

Faults touch only ``/api/calls/*`` (``http-error``, ``http-latency``) and pushes, the ``call.updated``
frames of the push channel (``push-*``); never ``/healthz``, the docs, ``/api/dev/*`` or the answers
on the push channel (hello, pong, error frames). Every kind draws from its own random stream, seeded
from the one seed, so the same seed and the same requests in the same order give the same faults,
and changing one kind's probability does not move another's draws. HTTP faults are decided before
the request reaches a route (by ``softphone.server.guards.Gate``), so an injected 503 never follows a
half-applied change. Push faults are decided when a change is published (in commit order, for each subscriber in the order they
connected) and carried out by the connection's writer (``softphone.server.push``).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass

from softphone.api import FAULT_DURATIONS, FAULT_PROBABILITIES, FaultSettings

log = logging.getLogger("softphone.server")

FAULTED_PREFIX = "/api/calls/"
REORDER_HOLD_SECONDS = 0.2
"""``push-reorder`` holds a push until the next one to the same subscriber, or this long at most."""


@dataclass(frozen=True)
class PushFate:
    """What happens to one push on its way to one subscriber."""

    drop: bool = False
    duplicate: bool = False
    hold: bool = False
    cut: bool = False
    delay: float = 0.0


DELIVER = PushFate()


class Faults:
    """The faults in force and their random streams; ``update`` replaces both.

    It also counts every fault it decided on, by kind, since the server started (``injected``): what
    ``GET /api/dev/simulator`` reports, so a soak run can say how much went wrong on purpose.
    """

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._streams: dict[str, random.Random] = {}
        self._injected: Counter[str] = Counter()
        self._pushes_faulted = False
        self.update(settings)

    @property
    def pushes_faulted(self) -> bool:
        """Whether any push fault is in force: if not, every push is delivered and ``push`` need not be asked."""
        return self._pushes_faulted

    def injected(self) -> dict[str, int]:
        """How many faults of each kind were injected so far (every kind, zeros included)."""
        return {kind: self._injected[kind] for kind in FAULT_PROBABILITIES + FAULT_DURATIONS}

    def update(self, settings: FaultSettings) -> FaultSettings:
        """Put ``settings`` in force and restart every stream from its seed (a new one if it has none)."""
        seed = next((seed for seed in (settings.seed, self.settings.seed) if seed is not None), None)
        if seed is None:
            seed = random.randrange(2**32)
        self.settings = settings.model_copy(update={"seed": seed})
        self._streams = {}
        push_kinds = (kind for kind in FAULT_PROBABILITIES + FAULT_DURATIONS if kind.startswith("push-"))
        self._pushes_faulted = any(getattr(self.settings, kind.replace("-", "_")) > 0 for kind in push_kinds)
        log.info("faults %s, seed %s", self.settings.spec() or "off", seed)
        return self.settings

    def http_error(self) -> bool:
        return self._roll("http-error", self.settings.http_error)

    def http_latency(self) -> float:
        """Seconds every faulted request waits first."""
        return self._wait("http-latency", self.settings.http_latency)

    def push(self) -> PushFate:
        """The fate of one push to one subscriber (asked once per subscriber of a change: kept cheap)."""
        if not self._pushes_faulted:
            return DELIVER  # no push fault in force: nothing to draw, nothing to count
        settings = self.settings
        if self._roll("push-disconnect", settings.push_disconnect):
            return PushFate(cut=True)
        if self._roll("push-drop", settings.push_drop):
            return PushFate(drop=True)
        return PushFate(
            duplicate=self._roll("push-dup", settings.push_dup),
            hold=self._roll("push-reorder", settings.push_reorder),
            delay=self._wait("push-delay", settings.push_delay),
        )

    def _roll(self, kind: str, probability: float) -> bool:
        if probability <= 0:
            return False
        stream = self._streams.get(kind)
        if stream is None:
            stream = self._streams[kind] = random.Random(f"{self.settings.seed}:{kind}")
        happens = stream.random() < probability
        self._injected[kind] += happens
        return happens

    def _wait(self, kind: str, milliseconds: float) -> float:
        self._injected[kind] += milliseconds > 0
        return milliseconds / 1000
