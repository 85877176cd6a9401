"""Every bundled scenario against a live simulator, strict; and the library against the rules table.

The library is a second statement of the transition table, written as data for testers; the rules
table (``softphone.api.RULES``) is the one the simulator enforces. The coverage test fails when a row,
a status or a refusal of the table has no scenario that exercises it, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from support.server import ServerProcess

from softphone.api import RULES, START_REFUSALS, CallStatus
from softphone.scenario import (
    Credentials,
    Outcome,
    ScenarioResult,
    StepResult,
    Target,
    library,
    load_all,
    run_scenarios,
)
from softphone.scenario.contract import ACTION_OF


class Quiet:
    def scenario_started(self, *_: object) -> None: ...

    def step_done(self, *_: object) -> None: ...

    def scenario_done(self, *_: object) -> None: ...


@pytest.fixture(scope="module")
def library_results(simulator: ServerProcess) -> dict[str, ScenarioResult]:
    """The whole library, once, strict: SIMULATOR.md's decisions must hold on the simulator too."""
    scenarios = load_all([str(path) for path in library()])
    target = Target(simulator.base_url, Credentials())
    results = asyncio.run(run_scenarios(scenarios, target, strict=True, reporter=Quiet()))
    return {result.scenario.name: result for result in results}


@pytest.mark.parametrize("name", [path.stem for path in library()])
def test_bundled_scenario_passes_on_the_simulator(library_results: dict[str, ScenarioResult], name: str) -> None:
    result = library_results[name]
    assert result.outcome is Outcome.PASS, result.reason
    assert not result.warnings
    assert result.steps and all(step.answer is not None or step.party is None for step in result.steps)


def _action_steps(results: dict[str, ScenarioResult]) -> list[StepResult]:
    return [step for result in results.values() for step in result.steps if step.answer is not None]


def test_the_library_exercises_every_row_status_and_refusal_of_the_rules(
    library_results: dict[str, ScenarioResult],
) -> None:
    statuses: defaultdict[str, set[str]] = defaultdict(set)
    codes: defaultdict[str, set[int]] = defaultdict(set)
    for step in _action_steps(library_results):
        if step.status_before is not None:
            statuses[step.action].add(step.status_before)
        if step.answer is not None and step.answer.code is not None:
            codes[step.action].add(step.answer.code)
    every_status = {status.value for status in CallStatus}
    for word, action in ACTION_OF.items():
        assert statuses[word] >= every_status, f"{word} never tried from {every_status - statuses[word]}"
        refusals = {refusal.error().CODE for refusal in RULES[action].refusals}
        assert codes[word] >= refusals | {0}, f"{word} never answered {refusals - codes[word]}"
    assert codes["dial"] >= {refusal.CODE for refusal in START_REFUSALS} | {0}


def test_races_were_run_at_once(library_results: dict[str, ScenarioResult]) -> None:
    """The members of a race leave within one step's time of each other, not one after the other."""
    for name in ("glare", "answered-elsewhere-race"):
        members = [step for step in library_results[name].steps if "." in step.number]
        assert len(members) == 2
        first, second = sorted(step.elapsed for step in members)
        assert second - first < 0.05, (name, members)
