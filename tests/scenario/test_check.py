"""``softphone check`` as a real process: it passes the simulator, passes documented-only mode with skips,
and fails a server that is wrong in any one way, naming the difference."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support.proxy import Mutation, mutating_proxy
from support.server import ServerFactory, ServerProcess

from softphone.check import check_cases
from softphone.launch import free_port, local_url

from .conftest import RING_TIMEOUT, Softphone, documented_only_profile, json_lines

CASES = [scenario.name for scenario, _ in check_cases()]


def case_lines(stdout: str) -> dict[str, dict[str, Any]]:
    return {line["scenario"]: line for line in json_lines(stdout) if line.get("scope") == "case"}


def test_check_without_a_server_passes_on_a_private_simulator(softphone: Softphone, tmp_path: Path) -> None:
    report = tmp_path / "check.xml"
    done = softphone("check", "--junit", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.match(r"Checking a private simulator at http://127\.0\.0\.1:\d+ against REFERENCE\.md$", lines[0])
    assert [line.split()[:2] for line in lines[1:-1]] == [["PASS", name] for name in CASES]
    assert lines[-1] == f"{len(CASES)} cases: {len(CASES)} passed, 0 passed with warnings, 0 failed, 0 skipped"
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == (str(len(CASES)), "0")
    classes = {case.get("name"): case.get("classname") for case in suite.findall("testcase")}
    assert classes["glare"] == "softphone.check.library" and classes["limit-reason"] == "softphone.check.own"


def test_check_passes_documented_only_mode_skipping_what_it_lacks(
    server_factory: ServerFactory, softphone: Softphone, tmp_path: Path
) -> None:
    server = server_factory(ring_timeout=RING_TIMEOUT, args=["--documented-only"])
    done = softphone("check", "--json", *documented_only_profile(server, tmp_path / "config.toml"))
    assert done.returncode == 0, done.stdout + done.stderr
    cases = case_lines(done.stdout)
    assert list(cases) == CASES
    skipped = {name: line["reason"] for name, line in cases.items() if line["result"] == "skip"}
    assert skipped == {
        "push-every-change": "needs the push channel: the server has no push channel (HTTP 404)",
        "call-lists": "needs the simulator's call lists (GET /api/calls/active: no such route)",
    }
    assert all(line["result"] == "pass" for name, line in cases.items() if name not in skipped)
    summary = json_lines(done.stdout)[-1]
    assert (summary["scope"], summary["server"], summary["fail"], summary["skip"]) == ("check", server.base_url, 0, 2)


def test_without_a_directory_or_conversation_ids_cases_are_skipped_saying_what_to_give(
    server_factory: ServerFactory, softphone: Softphone
) -> None:
    server = server_factory(ring_timeout=RING_TIMEOUT, args=["--documented-only"])
    tokens = re.findall(r"^(alice|bob|carol) \(\w+\): --user-id (\d+) --token (\S+)$", server.log(), re.M)
    done = softphone(
        "check", "--server", server.base_url, "--case", "accept-by-caller", "--case", "unknown-call",
        *[option for name, user_id, token in tokens for option in ("--token", f"{name}={user_id}:{token}")],
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "SKIP  accept-by-caller             needs the conversation between alice and bob (the server has no "
        "directory): give --conversation alice,bob=ID"
    ) in done.stdout
    assert "PASS  unknown-call" in done.stdout


def on(path_end: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Mutation:
    """The mutation that applies ``change`` to the answers of paths ending so (it returns None to leave one)."""

    def mutation(method: str, path: str, answer: Any) -> Any:
        if path.endswith(path_end) and isinstance(answer, dict):
            return change(answer) or answer
        return answer

    return mutation


def wrong_code(answer: dict[str, Any]) -> dict[str, Any] | None:
    return {**answer, "code": 41005} if answer["code"] == 41004 else None


def version_not_bumped(answer: dict[str, Any]) -> dict[str, Any] | None:
    data = answer["data"]
    return {**answer, "data": {**data, "version": data["version"] - 1}} if answer["code"] == 0 else None


def status_skipped(answer: dict[str, Any]) -> dict[str, Any] | None:
    data = answer["data"]
    if answer["code"] == 0 and data["status"] == "accepted":
        return {**answer, "data": {**data, "status": "ongoing"}}
    return None


def missing_field(answer: dict[str, Any]) -> dict[str, Any] | None:
    if answer["code"] != 0:
        return None
    return {**answer, "data": {key: value for key, value in answer["data"].items() if key != "channel_name"}}


def wrong_message(answer: dict[str, Any]) -> dict[str, Any] | None:
    return {**answer, "message": "忙线中"} if answer["code"] == 41003 else None


MUTANTS: dict[str, tuple[Mutation, str, str]] = {
    # name: (the change, a case that must fail, what its failure must say: a regular expression)
    "a wrong error code": (
        on("/accept", wrong_code), "accept-by-caller", r"expected 41004 非被叫方, got 41005 非被叫方",
    ),
    "a version not bumped": (
        on("/hangup", version_not_bumped), "hangup-from-accepted", r"expected version above 2, got 2",
    ),
    "a status skipped": (
        # Its wait or its state read, whichever sees "ongoing" first (polled lists still say "accepted").
        on("/state", status_skipped), "accept-from-calling", r"accepted.*'?ongoing'?",
    ),
    "a missing field": (
        on("/api/calls/session", missing_field), "documented-example", r"dial answer lacks channel_name",
    ),
    "a wrong message": (
        on("/api/calls/session", wrong_message), "busy", r"error 41003 says '忙线中'; REFERENCE\.md says '对方忙线'",
    ),
}  # fmt: skip


def test_the_check_fails_a_server_wrong_in_any_one_way(server_factory: ServerFactory, softphone: Softphone) -> None:
    """Each mutant behind its own proxy and simulator, all checked at once (a full check each)."""
    servers = {name: server_factory(ring_timeout=RING_TIMEOUT) for name in MUTANTS}

    def check_through_proxy(name: str) -> tuple[str, Any, int]:
        mutation = MUTANTS[name][0]
        with mutating_proxy(servers[name].base_url, mutation) as (url, proxy):
            done = softphone("check", "--server", url, "--json", timeout=300)
            return name, done, proxy.changed

    with ThreadPoolExecutor(max_workers=len(MUTANTS)) as pool:
        outcomes = list(pool.map(check_through_proxy, MUTANTS))
    for name, done, changed in outcomes:
        _, case, words = MUTANTS[name]
        assert changed > 0, f"{name}: the proxy changed nothing"
        assert done.returncode == 1, f"{name}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        cases = case_lines(done.stdout)
        assert cases[case]["result"] == "fail", f"{name}: {case} did not fail: {cases[case]}"
        assert re.search(words, cases[case]["reason"]), f"{name}: {cases[case]['reason']!r} does not say {words!r}"


def conflict_as_call_over(method: str, path: str, answer: Any) -> Any:
    """A server that says "the call is over" where the simulator says "not in this status": both are errors,
    and which one is SIMULATOR.md's decision, not REFERENCE.md's."""
    if isinstance(answer, dict) and answer.get("code") == 41002:
        return {**answer, "code": 41007, "message": "通话已结束"}
    return answer


@pytest.mark.parametrize("strict", [False, True])
def test_a_simulator_decision_warns_and_fails_only_when_strict(
    simulator: ServerProcess, softphone: Softphone, strict: bool
) -> None:
    cases = ["reject-after-accept", "hangup-while-calling", "accept-by-caller"]
    with mutating_proxy(simulator.base_url, conflict_as_call_over) as (url, proxy):
        options = [option for name in cases for option in ("--case", name)] + (["--strict"] if strict else [])
        done = softphone("check", "--server", url, *options)
    assert proxy.changed > 0
    rows = {line.split()[1]: line for line in done.stdout.splitlines()[1:-1]}
    assert rows["accept-by-caller"].startswith("PASS")
    for name in ("reject-after-accept", "hangup-while-calling"):
        assert rows[name].startswith("FAIL" if strict else "WARN"), rows[name]
        assert "expected 41002 通话状态不允许此操作, got 41007 通话已结束 [SIMULATOR.md]" in rows[name]
    assert done.returncode == (1 if strict else 0), done.stdout


def test_an_unreachable_server_exits_4_and_no_dev_login_exits_3_saying_to_give_tokens(
    simulator: ServerProcess, softphone: Softphone
) -> None:
    unreachable = softphone("check", "--server", local_url(free_port()), "--case", "glare")
    assert unreachable.returncode == 4 and unreachable.stderr.startswith("cannot reach the server:")

    def no_dev_login(method: str, path: str, answer: Any) -> Any:
        return {"code": 40401, "message": "接口不存在", "data": None} if path == "/api/dev/login" else answer

    with mutating_proxy(simulator.base_url, no_dev_login) as (url, _):
        refused = softphone("check", "--server", url, "--case", "glare")
    assert refused.returncode == 3
    assert refused.stderr == (
        "the server refused: signing in alice: the server has no dev login; give a token: "
        "--token alice=USER_ID:TOKEN\n"
    )


def test_a_profiles_users_play_the_caller_callee_and_stranger_in_order(
    server_factory: ServerFactory, softphone: Softphone, tmp_path: Path
) -> None:
    server = server_factory(ring_timeout=RING_TIMEOUT, args=["--documented-only"])
    aliases = {"alice": "ann", "bob": "ben", "carol": "cat"}
    options = documented_only_profile(server, tmp_path / "config.toml", aliases)
    cases = ["accept-by-stranger", "busy", "error-order"]
    done = softphone("check", *options, *[option for case in cases for option in ("--case", case)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[:2] for line in done.stdout.splitlines()[1:-1]] == [["PASS", case] for case in cases]
