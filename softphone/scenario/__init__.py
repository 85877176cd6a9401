"""Scenarios: parties and the steps between them, run against any server that speaks the call API.

``softphone run`` reads scenario files (TOML, see the README); ``softphone check`` builds its cases
the same way. The parts::

    model     Scenario, its steps and expectations; load_scenario() gives one or a one-line error
    target    Target: a server, who we can be there (Credentials → Account), what it offers
    runner    ScenarioRun / run_scenarios(): steps in order, races together, clean-up after
    watch     Watcher: a party's calls from the push stream or polling, for wait steps
    judge     a step's answer against its expect / simulator tables
    contract  what every answer must look like, judged on the bytes sent (documented vs SIMULATOR.md)
    transport RecordingTransport: the exchange as it went
    report    human lines, JSON Lines and JUnit XML
    library   the scenarios shipped in softphone/scenarios/

The package loads its parts on first use, so the ``softphone`` command can register ``run`` and
``check`` without importing the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from softphone.scenario.contract import Answer, Finding
    from softphone.scenario.library import library, library_dir, load_all, resolve
    from softphone.scenario.model import Basis, Capability, Scenario, ScenarioFileError, load_scenario, parse_scenario
    from softphone.scenario.report import (
        HumanReport,
        JsonLinesReport,
        scenario_record,
        totals,
        totals_words,
        write_junit,
    )
    from softphone.scenario.runner import Outcome, Reporter, ScenarioResult, ScenarioRun, StepResult, run_scenarios
    from softphone.scenario.target import (
        Account,
        Credential,
        Credentials,
        SignInRefused,
        Target,
        Unavailable,
        Unreachable,
    )

_LAZY = {
    "Answer": "softphone.scenario.contract",
    "Finding": "softphone.scenario.contract",
    "library": "softphone.scenario.library",
    "library_dir": "softphone.scenario.library",
    "load_all": "softphone.scenario.library",
    "resolve": "softphone.scenario.library",
    "Basis": "softphone.scenario.model",
    "Capability": "softphone.scenario.model",
    "Scenario": "softphone.scenario.model",
    "ScenarioFileError": "softphone.scenario.model",
    "load_scenario": "softphone.scenario.model",
    "parse_scenario": "softphone.scenario.model",
    "HumanReport": "softphone.scenario.report",
    "JsonLinesReport": "softphone.scenario.report",
    "scenario_record": "softphone.scenario.report",
    "totals": "softphone.scenario.report",
    "totals_words": "softphone.scenario.report",
    "write_junit": "softphone.scenario.report",
    "Outcome": "softphone.scenario.runner",
    "Reporter": "softphone.scenario.runner",
    "ScenarioResult": "softphone.scenario.runner",
    "ScenarioRun": "softphone.scenario.runner",
    "StepResult": "softphone.scenario.runner",
    "run_scenarios": "softphone.scenario.runner",
    "Account": "softphone.scenario.target",
    "Credential": "softphone.scenario.target",
    "Credentials": "softphone.scenario.target",
    "SignInRefused": "softphone.scenario.target",
    "Target": "softphone.scenario.target",
    "Unavailable": "softphone.scenario.target",
    "Unreachable": "softphone.scenario.target",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Account",
    "Answer",
    "Basis",
    "Capability",
    "Credential",
    "Credentials",
    "Finding",
    "HumanReport",
    "JsonLinesReport",
    "Outcome",
    "Reporter",
    "Scenario",
    "ScenarioFileError",
    "ScenarioResult",
    "ScenarioRun",
    "SignInRefused",
    "StepResult",
    "Target",
    "Unavailable",
    "Unreachable",
    "library",
    "library_dir",
    "load_all",
    "load_scenario",
    "parse_scenario",
    "resolve",
    "run_scenarios",
    "scenario_record",
    "totals",
    "totals_words",
    "write_junit",
]
