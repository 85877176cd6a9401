"""``softphone load``'s plan (no Locust) and its one-line usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from softphone.cli import main
from softphone.load.plan import (
    LoadPlan,
    Outcome,
    PlanError,
    ProfileUsers,
    UserToken,
    generated_user_names,
    make_plan,
    parse_mix,
)

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


def test_a_profile_gives_the_users_their_tokens_and_each_pairs_conversation() -> None:
    profile = ProfileUsers(
        profile="staging",
        users=("alice", "bob", "carol", "dave", "erin"),
        tokens={"alice": UserToken(user_id=10001, token="a-token"), "erin": UserToken(user_id=50005, token="e")},
        conversations={frozenset({"alice", "bob"}): 252487239},
    )
    made = plan(rate=2.0, mix="answer=1", profile=profile)
    assert made.users == ("alice", "bob", "carol", "dave")
    assert made.tokens == {"alice": UserToken(user_id=10001, token="a-token")}  # only users that take part
    assert [made.pair_for(Outcome.ANSWER, slot) for slot in range(2)] == [
        ("alice", "bob", 0.0, 252487239),
        ("carol", "dave", 0.5, None),  # no conversation in the profile: the directory is asked
    ]
    assert LoadPlan.model_validate_json(made.model_dump_json()) == made  # what workers receive


def test_too_few_profile_users_name_the_profile_and_users_overrides_it() -> None:
    profile = ProfileUsers(profile="staging", users=("alice", "bob"))
    with pytest.raises(PlanError, match="^profile staging: 2 users are too few; 2 concurrent calls need 4"):
        plan(rate=2.0, mix="answer=1", profile=profile)
    assert plan(rate=2.0, mix="answer=1", users="4", profile=profile).users == generated_user_names(4)


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
    result = CliRunner().invoke(main, ["load", "--server", "http://127.0.0.1:1", *args], prog_name="softphone")
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


@pytest.mark.parametrize(
    ("profile", "args", "says"),
    [
        ("[profiles.sim]\n", ["--profile", "other"], "--profile: no profile 'other' in "),
        ("[profiles.sim.users.alice]\ntoken = 't'\n", ["--profile", "sim"], "profile sim, user alice: a token needs its user_id"),
        ("[profiles.sim]\nusers = 3\n", ["--profile", "sim"], "profiles.sim.users: Input should be a valid dictionary"),
        ("[profiles.sim\n", ["--profile", "sim"], "config file "),
        (
            "[profiles.sim.users.alice]\n[profiles.sim.users.bob]\n",
            ["--profile", "sim", "--rate", "3", "--mix", "answer=1"],
            "profile sim: 2 users are too few; 3 concurrent calls need 6",
        ),
    ],
)
def test_a_bad_profile_is_a_one_line_usage_error(tmp_path: Path, profile: str, args: list[str], says: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(profile, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["load", "--server", "http://127.0.0.1:1", "--config", str(config), *args], prog_name="softphone"
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("softphone load: ") and says in lines[0], result.output
