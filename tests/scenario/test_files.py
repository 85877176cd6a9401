"""Scenario files: every bundled one is valid, and a bad one is refused in one line naming file, step and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone.scenario import ScenarioFileError, library, load_scenario, resolve
from softphone.scenario.model import CallStep, TogetherStep

HEADER = '[parties]\nalice = "alice"\nbob = "bob"\n\n[[steps]]\nparty = "alice"\naction = "dial"\ntarget = "bob"\ncall = "c"\n'


def test_every_bundled_scenario_is_valid_and_described() -> None:
    paths = library()
    assert len(paths) >= 30
    for path in paths:
        scenario = load_scenario(path)
        assert scenario.name == path.stem and scenario.description, path


def test_a_bundled_scenario_is_found_by_name() -> None:
    assert resolve("glare") == resolve("glare.toml") and resolve("glare").name == "glare.toml"
    with pytest.raises(ScenarioFileError, match="no bundled scenario of that name"):
        resolve("no-such-scenario")


def test_a_race_reads_as_one_group_of_steps(tmp_path: Path) -> None:
    path = tmp_path / "race.toml"
    path.write_text(
        HEADER + '\n[[steps]]\nsimulator = { codes = [0, "error"] }\n\n'
        '[[steps.together]]\nparty = "alice"\naction = "cancel"\ncall = "c"\n\n'
        '[[steps.together]]\nparty = "bob"\naction = "accept"\ncall = "c"\nafter = 0.1\n',
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    group = scenario.steps[1]
    assert isinstance(group, TogetherStep) and group.simulator is not None
    assert group.simulator.codes == [0, "error"]
    assert [(number, step.action) for number, step in scenario.numbered()] == [
        ("1", "dial"), ("2.1", "cancel"), ("2.2", "accept"),
    ]  # fmt: skip
    assert isinstance(group.together[1], CallStep) and group.together[1].after == 0.1


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        ('\n[[steps]]\nparty = "bob"\naction = "accept"\ncall = "c"\nreasn = "x"\n', "step 2 (accept), field reasn: extra inputs"),
        ('\n[[steps]]\nparty = "bob"\naction = "acept"\ncall = "c"\n', "step 2 (acept): action must be one of dial, accept"),
        ('\n[[steps]]\nparty = "dave"\naction = "accept"\ncall = "c"\n', "step 2 (accept), field party: 'dave' is not one of the parties (alice, bob)"),
        ('\n[[steps]]\nparty = "bob"\naction = "accept"\ncall = "d"\n', "step 2 (accept): call 'd' is not started by an earlier dial"),
        ('\n[[steps]]\nparty = "bob"\naction = "accept"\ncall = "c"\nexpect = { version = "++1" }\n', 'step 2 (accept), field expect.version: expected a version (1, 2...), "+N"'),
        ('\n[[steps]]\nparty = "bob"\naction = "state"\ncall = "c"\nreason = "x"\n', "step 2 (state): reason is only for reject, cancel and hangup"),
        ('\n[[steps]]\nparty = "bob"\naction = "wait"\ncall = "c"\nstatus = "calling"\ntimeout = 0\n', "step 2 (wait), field timeout: input should be greater than 0"),
        ('\n[[steps]]\n[[steps.together]]\nparty = "bob"\naction = "accept"\ncall = "c"\n\n[[steps.together]]\nparty = "bob"\naction = "reject"\ncall = "c"\n', "step 2 (together): together: each party may appear once"),
        ('\n[[steps]]\n[[steps.together]]\nparty = "bob"\naction = "accept"\ncall = "c"\n\n[[steps.together]]\nparty = "alice"\naction = "cancel"\ncall = "c"\nexpect = { code = "maybe" }\n', "step 2 (together), member 2 (cancel), field expect.code: expected 0 (success), an error code or \"error\", got 'maybe'"),
        ('\n[[steps]]\nparty = "bob"\naction = "accept"\n', "step 2 (accept): give either call (a name from a dial) or call_id"),
        ("requires = ['radio']\n", "field requires.0: input should be 'push' or 'lists'"),
        ("[[steps]\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_one_line_naming_its_step_and_field(tmp_path: Path, tail: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    text = tail + HEADER if tail.startswith("requires") else HEADER + tail
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioFileError) as refused:
        load_scenario(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and problem in message, message
