"""Capped exponential backoff with jitter, shared by the client's retries and the push stream."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delay before retry number ``attempt`` (0-based): ``initial * factor**attempt``, capped at
    ``maximum``, then shortened by up to ``jitter`` (a fraction) so that many clients a restarted
    server lost do not all come back in the same instant."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(f"invalid backoff {self}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        capped = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return capped * (1 - self.jitter * rng.random())
