"""How hard the scalable tests push: a quick run in ``make test``, a long one in ``make soak``.

``make soak`` sets ``SOFTPHONE_SOAK=1`` and runs the tests marked ``soak``; each asks ``scaled`` for
its number of rounds or examples.
"""

from __future__ import annotations

import os

SOAK = os.environ.get("SOFTPHONE_SOAK") == "1"


def scaled(quick: int, soak: int) -> int:
    """``quick`` in ``make test``, ``soak`` in ``make soak``."""
    return soak if SOAK else quick
