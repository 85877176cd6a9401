"""How hard the scalable tests push, which seeds they run, and the figures they report.

``make test`` runs a quick version of every proof; ``make soak`` sets ``SOFTPHONE_SOAK=1`` and runs
the tests marked ``soak`` at full size, each asking ``scaled`` for its number of rounds or examples.

Seeded proofs take their seeds from ``seeds``: fixed ones in ``make test``, a fresh range in
``make soak`` (from ``SOFTPHONE_SEED_BASE`` if set, else random), and exactly one with
``SOFTPHONE_SEED=N``, which is how a failure printed with its seed is replayed.

Every proof ``record``s its figures; with ``SOFTPHONE_SOAK_RESULTS=PATH`` (``make soak`` sets it) the
session writes them there at its end (``tests/conftest.py``), for RELIABILITY.md to quote.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

SOAK = os.environ.get("SOFTPHONE_SOAK") == "1"
SEED_ENV = "SOFTPHONE_SEED"
SEED_BASE_ENV = "SOFTPHONE_SEED_BASE"
RESULTS_ENV = "SOFTPHONE_SOAK_RESULTS"

_REPLAY = os.environ.get(SEED_ENV)
_SOAK_BASE = int(os.environ.get(SEED_BASE_ENV) or random.SystemRandom().randrange(10**6, 10**9))


def scaled(quick: int, soak: int) -> int:
    """``quick`` in ``make test``, ``soak`` in ``make soak``."""
    return soak if SOAK else quick


def seeds(quick: int, soak: int) -> list[int]:
    """The seeds of one seeded proof: ``SOFTPHONE_SEED`` alone, else 1..quick, or soak from a fresh base."""
    if _REPLAY:
        return [int(_REPLAY)]
    if SOAK:
        return list(range(_SOAK_BASE, _SOAK_BASE + soak))
    return list(range(1, quick + 1))


def replay_hint(seed: int, test: str) -> str:
    """What to type to run one failed round again."""
    return f"replay: {SEED_ENV}={seed} .venv/bin/python -m pytest '{test}'"


@dataclass
class Figures:
    """What one proof did: how many rounds, with which seeds, what went wrong on purpose, what was lost."""

    proof: str
    test: str
    rounds: int = 0
    seeds: str = ""
    examples: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    losses: int = 0
    notes: str = ""
    passed: bool | None = None


RECORDED: dict[str, Figures] = {}
"""Figures by test node id, filled by the proofs and written out when the session ends."""


def record(test: str, proof: str, **figures: object) -> Figures:
    """The figures of ``test``, created on first use; keyword arguments add to counts or set text."""
    entry = RECORDED.setdefault(test, Figures(proof=proof, test=test))
    for name, value in figures.items():
        current = getattr(entry, name)
        if isinstance(value, Mapping):
            current.update(value)
        elif isinstance(current, int) and isinstance(value, int) and not isinstance(current, bool):
            setattr(entry, name, current + value)
        else:
            setattr(entry, name, value)
    return entry


def seed_range(used: list[int]) -> str:
    """``1..50`` for a contiguous range, else the seeds themselves."""
    if not used:
        return ""
    if used == list(range(used[0], used[0] + len(used))) and len(used) > 1:
        return f"{used[0]}..{used[-1]}"
    return ", ".join(map(str, used))


QUOTE_START = "<!-- soak figures: written by make soak from soak-results.md; do not edit -->"
QUOTE_END = "<!-- end of soak figures -->"


def render(figures: list[Figures], *, started: str, minutes: float, commit: str, outcome: str) -> str:
    """The results file: one row per proof (a parametrized proof's tests summed), then its tests."""
    by_proof: dict[str, list[Figures]] = {}
    for entry in figures:
        by_proof.setdefault(entry.proof, []).append(entry)
    lines = [
        f"Last `make soak`: started {started}, {minutes:.1f} min, commit `{commit}`; {outcome}.",
        "",
        "| proof | rounds | seeds | examples | faults injected | losses | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for proof, entries in by_proof.items():
        faults: Counter[str] = sum((entry.faults for entry in entries), Counter())
        injected = ", ".join(f"{kind} {count:,}" for kind, count in sorted(faults.items()) if count) or "none"
        examples = sum(entry.examples for entry in entries)
        if len(entries) > 1 and examples:
            examples_text = f"{examples:,} (at least {min(e.examples for e in entries):,} for each of {len(entries)})"
        else:
            examples_text = f"{examples:,}" if examples else "–"
        rounds = sum(entry.rounds for entry in entries)
        seeds_used = "; ".join(entry.seeds for entry in entries if entry.seeds) or "–"
        losses = sum(entry.losses for entry in entries)
        passed = all(entry.passed for entry in entries)
        result = "passed" if passed else "FAILED"
        lines.append(
            f"| {proof} | {f'{rounds:,}' if rounds else '–'} | {seeds_used} | {examples_text} | {injected} "
            f"| {losses} | {result} |"
        )
    lines += ["", "Tests and what each saw:", ""]
    by_test: dict[str, list[Figures]] = {}
    for entry in figures:
        by_test.setdefault(entry.test.partition("[")[0], []).append(entry)
    for test, entries in by_test.items():
        notes = "; ".join(dict.fromkeys(entry.notes for entry in entries if entry.notes))
        if len(entries) > 1:
            cases = ", ".join(f"{entry.test.partition('[')[2].rstrip(']')} {entry.examples:,}" for entry in entries)
            notes = f"examples per case: {cases}" + (f"; {notes}" if notes else "")
        lines.append(f"- `{test}`" + (f": {notes}" if notes else ""))
    return "\n".join(lines) + "\n"


def quote(document: str, results: str) -> str:
    """``document`` with the text between its quote markers replaced by ``results``."""
    head, start, rest = document.partition(QUOTE_START)
    _, end, tail = rest.partition(QUOTE_END)
    if not start or not end:
        raise ValueError("the document has no soak figures markers")
    return f"{head}{QUOTE_START}\n{results}{QUOTE_END}{tail}"
