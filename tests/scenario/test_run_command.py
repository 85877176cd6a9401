"""``softphone run`` as a real process: output, JSON Lines, JUnit XML and every exit code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from support.server import ServerFactory, ServerProcess

from softphone.launch import free_port, local_url
from softphone.scenario import library

from .conftest import RING_TIMEOUT, Softphone, documented_only_profile, json_lines

FAILING = """\
description = "Expects the wrong code on purpose"

[parties]
alice = "alice"
bob = "bob"

[[steps]]
party = "alice"
action = "dial"
target = "bob"
call = "c"

[[steps]]
party = "alice"
action = "accept"
call = "c"
expect = { code = 41005 }

[[steps]]
party = "bob"
action = "accept"
call = "c"
"""


def test_run_prints_every_step_with_its_time_and_a_verdict(simulator: ServerProcess, softphone: Softphone) -> None:
    done = softphone("run", "documented-example", "--server", simulator.base_url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    steps = [line for line in lines if line.startswith("  +")]
    assert len(steps) == 7
    assert "alice" in steps[0] and "dial bob as c" in steps[0] and "calling v1" in steps[0]
    assert "hangup c" in steps[5] and "ended v5 (local_hangup)" in steps[5]
    assert "PASS  documented-example: 7 steps" in done.stdout
    assert lines[-1] == "1 scenarios: 1 passed, 0 failed, 0 skipped, 0 warnings"


def test_json_lines_and_junit_for_several_scenarios(simulator: ServerProcess, softphone: Softphone, tmp_path: Path) -> None:
    report = tmp_path / "run.xml"
    names = ["accept-by-caller", "glare", "ring-timeout"]
    done = softphone("run", *names, "--server", simulator.base_url, "--json", "--junit", str(report), "--strict")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = json_lines(done.stdout)
    events = [line for line in lines if line["kind"] == "event"]
    errors = [line for line in lines if line["kind"] == "error"]
    summaries = [line for line in lines if line["kind"] == "summary"]
    assert events and all({"call_id", "version", "status", "source", "end_reason"} <= set(line) for line in events)
    assert {"response", "push"} <= {line["source"] for line in events}
    refused = next(line for line in errors if line["scenario"] == "accept-by-caller")
    assert (refused["code"], refused["message"], refused["ok"]) == (41004, "非被叫方", True)
    timed_out = next(line for line in events if line["scenario"] == "ring-timeout" and line["action"] == "wait")
    assert (timed_out["status"], timed_out["end_reason"]) == ("ended", "no_answer_timeout")
    race = next(line for line in summaries if line.get("scope") == "together")
    assert race["scenario"] == "glare" and race["ok"]
    assert [line["scenario"] for line in summaries if line.get("scope") == "scenario"] == names
    assert summaries[-1] | {"at": ""} == {
        "kind": "summary", "at": "", "scope": "run", "total": 3, "pass": 3, "fail": 0, "skip": 0, "warnings": 0,
    }  # fmt: skip

    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "0", "0")
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == names
    assert all(case.find("failure") is None and "PASS" in (case.findtext("system-out") or "") for case in cases)


def test_a_failed_expectation_exits_1_saying_expected_and_got(
    simulator: ServerProcess, softphone: Softphone, tmp_path: Path
) -> None:
    scenario = tmp_path / "wrong.toml"
    scenario.write_text(FAILING, encoding="utf-8")
    report = tmp_path / "wrong.xml"
    done = softphone("run", str(scenario), "--server", simulator.base_url, "--junit", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    reason = "step 2 (alice accept c): expected 41005 非主叫方, got 41004 非被叫方"
    assert f"FAIL  wrong: {reason}" in done.stdout
    assert len([line for line in done.stdout.splitlines() if line.startswith("  +")]) == 2, "it stops at the failure"
    failure = ET.parse(report).getroot().find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == reason
    # The call it left ringing was cancelled: Bob is free for the next one.
    again = softphone("run", "accept-from-calling", "--server", simulator.base_url)
    assert again.returncode == 0, again.stdout


def test_a_bad_file_exits_2_in_one_line_before_anything_runs(softphone: Softphone, tmp_path: Path) -> None:
    scenario = tmp_path / "typo.toml"
    scenario.write_text(FAILING.replace("expect = { code", "expext = { code"), encoding="utf-8")
    done = softphone("run", "glare", str(scenario), "--server", local_url(free_port()))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"softphone run: {scenario}: step 2 (accept), field expext: extra inputs are not permitted\n"


def test_an_unreachable_server_exits_4(softphone: Softphone) -> None:
    done = softphone("run", "glare", "--server", local_url(free_port()))
    assert done.returncode == 4
    assert done.stderr.startswith("cannot reach the server:") and len(done.stderr.splitlines()) == 1


def test_a_refused_sign_in_exits_3_with_the_servers_code(simulator: ServerProcess, softphone: Softphone, tmp_path: Path) -> None:
    scenario = tmp_path / "stranger.toml"
    scenario.write_text(FAILING.replace('bob = "bob"', 'bob = "nobody-here"'), encoding="utf-8")
    done = softphone("run", str(scenario), "--server", simulator.base_url)
    assert done.returncode == 3
    assert "the server refused: signing in nobody-here: 40001 参数错误" in done.stderr


def test_a_scenario_needing_a_short_ring_timeout_is_skipped_on_a_long_one(
    live_server: ServerProcess, softphone: Softphone
) -> None:
    done = softphone("run", "ring-timeout", "--server", live_server.base_url)
    assert done.returncode == 0, done.stdout
    assert (
        "SKIP  ring-timeout: needs a ring timeout of at most 5s and the server rings 30s "
        "(the simulator: serve --ring-timeout 5)"
    ) in done.stdout
    assert done.stdout.splitlines()[-1].startswith("1 scenarios: 0 passed, 0 failed, 1 skipped")


def test_polling_instead_of_push_still_waits_on_the_state(
    simulator: ServerProcess, softphone: Softphone, tmp_path: Path
) -> None:
    pushed = tmp_path / "pushed.toml"
    pushed.write_text(
        FAILING.split('[[steps]]\nparty = "alice"\naction = "accept"')[0]
        + '[[steps]]\nparty = "bob"\naction = "wait"\ncall = "c"\nstatus = "calling"\nvia = "push"\n',
        encoding="utf-8",
    )
    done = softphone("run", "documented-example", "answered-elsewhere", str(pushed), "--server", simulator.base_url, "--poll", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = json_lines(done.stdout)
    waits = [line for line in lines if line.get("action") == "wait"]
    assert len(waits) == 4 and {line["source"] for line in waits} <= {"poll", "resync"}
    skipped = next(line for line in lines if line.get("scenario") == "pushed" and line.get("scope") == "scenario")
    assert (skipped["result"], skipped["reason"]) == ("skip", "needs the push channel, and this run polls (--poll)")


def test_list_names_every_bundled_scenario(softphone: Softphone) -> None:
    done = softphone("run", "--list")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == [path.stem for path in library()]


def test_a_profile_signs_the_scenarios_users_in_where_there_is_no_directory(
    server_factory: ServerFactory, softphone: Softphone, tmp_path: Path
) -> None:
    server = server_factory(ring_timeout=RING_TIMEOUT, args=["--documented-only"])
    options = documented_only_profile(server, tmp_path / "config.toml")
    done = softphone("run", "answered-elsewhere", "busy", "--json", *options)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = json_lines(done.stdout)
    waits = [line for line in lines if line.get("action") == "wait"]
    assert waits and {line["source"] for line in waits} <= {"poll", "resync"}, "the profile says poll"
    assert lines[-1]["pass"] == 2

    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace('user_id = 20002\n', ""), encoding="utf-8")
    refused = softphone("run", "glare", *options)
    assert refused.returncode == 2
    assert refused.stderr == "softphone run: profile docs, user bob: a token needs its user_id here\n"


def test_bad_options_are_one_line_and_exit_2(softphone: Softphone) -> None:
    token = softphone("run", "glare", "--token", "alice:abc", "--server", local_url(free_port()))
    assert token.returncode == 2
    assert token.stderr.startswith("softphone run: Invalid value for '--token': 'alice:abc': expected NAME=USER_ID:TOKEN")
    assert len(token.stderr.splitlines()) == 1
    users = softphone("check", "--user", "a", "--user", "b", "--user", "c", "--user", "d", "--server", local_url(free_port()))
    assert users.returncode == 2
    assert users.stderr == "softphone check: --user and --token name more than 3 users (a caller, a callee and a stranger)\n"
