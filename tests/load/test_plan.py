"""``softphone load``'s plan (no Locust) and its one-line usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from softphone.cli import main
from softphone.load.plan import LoadPlan, Outcome, PlanError, generated_user_names, make_plan, parse_mix

LOAD_PROCESS_ONLY = ("locust", "gevent", "geventhttpclient", "websocket", "zmq")


def plan(**overrides: Any) -> LoadPlan:
    options: dict[str, Any] = {
        "server": "http://127.0.0.1:1",
        "rate": 20.0,
        "duration_s": 5.0,
        "mix": "answer=80,reject=10,cancel=5,timeout=5",
        "ring_timeout_s": 30.0,
        "concurrency": None,
        "users": None,
        "push": False,
        "workers": 1,
    }
    options.update(overrides)
    return make_plan(**options)


def test_the_mix_is_weights_made_shares() -> None:
    assert parse_mix("answer=3,reject=1") == {Outcome.ANSWER: 0.75, Outcome.REJECT: 0.25}
    assert parse_mix("answer=1,timeout=0") == {Outcome.ANSWER: 1.0}


@pytest.mark.parametrize("mix", ["answer", "answer=x", "hold=5", "answer=-1", "answer=0", "answer=1,answer=2"])
def test_a_bad_mix_is_refused(mix: str) -> None:
    with pytest.raises(PlanError, match="--mix"):
        parse_mix(mix)


def test_every_outcome_runs_at_its_share_of_the_rate_with_room_for_its_longest_call() -> None:
    made = plan()
    assert sum(load.rate for load in made.loads) == pytest.approx(20.0)
    by_outcome = {load.outcome: load for load in made.loads}
    assert by_outcome[Outcome.ANSWER].rate == pytest.approx(16.0)
    assert by_outcome[Outcome.TIMEOUT].pacing_s >= 30.0  # a timeout keeps its pair for the ring timeout
    assert by_outcome[Outcome.ANSWER].pacing_s >= 1.0
    assert made.users == generated_user_names(2 * made.concurrency)


def test_concurrency_fixes_the_number_of_users_and_the_pacing_follows() -> None:
    made = plan(concurrency=40)
    assert made.concurrency == 40
    assert sum(load.rate for load in made.loads) == pytest.approx(20.0)


def test_no_two_users_share_a_pair() -> None:
    made = plan()
    pairs = [made.pair_for(load.outcome, slot)[:2] for load in made.loads for slot in range(load.users)]
    people = [name for pair in pairs for name in pair]
    assert len(people) == len(set(people)) == len(made.users)
    with pytest.raises(PlanError):
        made.pair_for(Outcome.ANSWER, made.load_of(Outcome.ANSWER).users)


def test_a_user_list_is_used_as_given() -> None:
    made = plan(rate=1.0, mix="answer=1", users="alice,bob,carol,dave")
    assert made.users == ("alice", "bob")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--rate", "abc"], "'--rate': 'abc' is not a valid float"),
        (["--rate", "0"], "--rate must be more than 0"),
        (["--duration", "-1"], "--duration must be more than 0"),
        (["--mix", "answer=1,hold=2"], "--mix: 'hold=2'"),
        (["--users", "4"], "--users: 4 users are too few"),
        (["--users", "alice,bob", "--rate", "30"], "--users: 2 users are too few"),
        (["--concurrency", "2"], "--concurrency 2: the mix has 4 outcomes"),
        (["--master"], "--master needs --workers N"),
        (["--master", "--worker", "--workers", "2"], "--master and --worker are alternatives"),
        (["--workers", "0"], "'--workers': 0 is not in the range"),
    ],
)
def test_bad_options_are_one_line_usage_errors(args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, ["load", "--server", "http://127.0.0.1:1", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("softphone load: ") and says in lines[0], result.output


@pytest.mark.parametrize("statement", ["import softphone.cli", "import softphone.load.plan", "import softphone.server.app"])
def test_locust_and_gevent_load_only_in_load_processes(statement: str) -> None:
    script = f"import sys, json\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout))
    assert loaded.isdisjoint(LOAD_PROCESS_ONLY)


def test_the_phone_starts_without_the_load_plan() -> None:
    """``softphone`` (the TUI) imports the CLI: the load's pydantic models are not built for it."""
    script = "import sys, softphone.cli\nprint('softphone.load.plan' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_other_commands_run_without_locust() -> None:
    script = (
        "import sys\nfrom click.testing import CliRunner\nfrom softphone.cli import main\n"
        "for args in (['--help'], ['serve', '--help'], ['load', '--help'], ['load', '--rate', 'x']):\n"
        "    CliRunner().invoke(main, args)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {LOAD_PROCESS_ONLY!r}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
