"""``softphone check``: the documented contract as a suite of scenarios, against any server.

The cases are the bundled scenario library (every transition, error code and order, busy, races, ring
timeout, version arithmetic) and the check's own (``cases``: tokens, field limits, values, the
simulator's extensions). Each runs on the scenario engine, which judges every answer by the contract
as well as by the case's expectations. A difference from REFERENCE.md fails; one from a SIMULATOR.md
decision warns, and fails with ``strict``. A case that needs what the server lacks is skipped.

``suite`` holds the engine's use (``check_cases``, ``verdict``); ``command`` the click command, which the
``softphone`` command registers without loading the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from softphone.check.suite import (
        PRIVATE_RING_TIMEOUT,
        ROLES,
        Verdict,
        check_cases,
        detail,
        role_credentials,
        verdict,
    )


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("softphone.check.suite"), name)
    globals()[name] = value
    return value


__all__ = ["PRIVATE_RING_TIMEOUT", "ROLES", "Verdict", "check_cases", "detail", "role_credentials", "verdict"]
