"""``softphone call`` and ``softphone bot`` as real processes against a live simulator: every policy, every exit code.

The tests share one simulator, and every call left live is ended after each test (``simulator``).
Bots are started first and waited for (their first line says they are signed in); calls placed
before a bot's push connection is up still reach it (the hello lists ringing calls).
"""

from __future__ import annotations

from typing import Any

import pytest
from support.cli import Running, Softphone, json_lines
from support.server import ServerFactory, ServerProcess

from softphone.api import CallClient
from softphone.exit_codes import ExitCode


def start_bot(softphone: Softphone, server: ServerProcess, user: str, *policy: str) -> Running:
    bot = softphone.start("bot", "--user", user, "--server", server.base_url, *policy)
    bot.expect(lambda line: "on terminal" in line)
    return bot


def call(softphone: Softphone, server: ServerProcess, target: str, *args: str, user: str = "alice") -> Any:
    return softphone.run("call", target, "--user", user, "--server", server.base_url, *args)


def summary_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    assert records[-1]["kind"] == "summary" and all(r["kind"] != "summary" for r in records[:-1])
    return records[-1]


def test_an_answered_call_exits_0_and_tells_its_story_as_json_lines(softphone: Softphone, simulator: ServerProcess) -> None:
    bot = start_bot(softphone, simulator, "bob", "--answer-after", "0.2", "--calls", "1")
    result = call(softphone, simulator, "bob", "--hangup-after", "0.5", "--json")
    assert result.returncode == ExitCode.OK, result.stderr
    records = json_lines(result.stdout)
    events = [r for r in records if r["kind"] == "event"]
    assert {r["call_id"] for r in events} == {summary_of(records)["call_id"]}
    assert all({"call_id", "version", "status", "source"} <= r.keys() for r in events)
    assert {r["source"] for r in events} <= {"response", "push", "poll", "resync", "local"}
    changes = [r for r in events if r["source"] != "local" and "marker" not in r]
    versions = [r["version"] for r in changes]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert [r["status"] for r in changes][0] == "calling" and "ongoing" in [r["status"] for r in changes]
    assert changes[-1]["status"] == "ended" and changes[-1]["end_reason"] == "local_hangup"
    assert [r["action"] for r in events if r["source"] == "local"][-1] == "hangup"
    assert summary_of(records) | {"at": None} == {
        "kind": "summary",
        "at": None,
        "call_id": changes[0]["call_id"],
        "status": "ended",
        "end_reason": "local_hangup",
        "version": versions[-1],
        "answered": True,
        "talk_seconds": summary_of(records)["talk_seconds"],
        "expected": "answered, then ended",
        "met": True,
        "exit_code": 0,
    }
    assert bot.wait() == 0
    assert any("answered" in line for line in bot.lines) and "Done after 1 call." in bot.lines[-1]


def test_the_human_story_is_short_sentences(softphone: Softphone, simulator: ServerProcess) -> None:
    bot = start_bot(softphone, simulator, "bob", "--calls", "1")
    result = call(softphone, simulator, "bob", "--hangup-after", "0.2")
    assert result.returncode == ExitCode.OK, result.stderr
    for words in ("Calling Bob…", "Bob answered.", "In call with Bob.", "Hanging up.", "You hung up."):
        assert words in result.stdout
    assert result.stdout.splitlines()[-1].endswith("As expected.")
    assert bot.wait() == 0


def test_a_rejecting_bot_fails_a_plain_call_and_meets_an_expectation(softphone: Softphone, simulator: ServerProcess) -> None:
    bot = start_bot(softphone, simulator, "bob", "--reject", "--calls", "3")
    plain = call(softphone, simulator, "bob")
    assert plain.returncode == ExitCode.EXPECTATION_FAILED
    assert "Bob declined the call." in plain.stdout and "Expected answered, then ended." in plain.stdout
    expected = call(softphone, simulator, "bob", "--expect", "rejected:user_reject")
    assert expected.returncode == ExitCode.OK, expected.stdout
    assert expected.stdout.splitlines()[-1].endswith("As expected.")
    assert call(softphone, simulator, "bob", "--expect", "rejected:callee_busy").returncode == ExitCode.EXPECTATION_FAILED
    assert bot.wait() == 0  # three calls, then it stops by itself


def test_a_busy_bot_rejects_with_callee_busy(softphone: Softphone, simulator: ServerProcess) -> None:
    bot = start_bot(softphone, simulator, "bob", "--busy", "--calls", "1")
    result = call(softphone, simulator, "bob", "--expect", "rejected:callee_busy", "--json")
    assert result.returncode == ExitCode.OK, result.stdout
    assert summary_of(json_lines(result.stdout))["end_reason"] == "callee_busy"
    assert bot.wait() == 0


def test_an_ignoring_bot_lets_the_call_ring_out(softphone: Softphone, server_factory: ServerFactory) -> None:
    server = server_factory(ring_timeout=1)
    bot = start_bot(softphone, server, "bob", "--ignore", "--calls", "1")
    rang_out = call(softphone, server, "bob", "--expect", "ended:no_answer_timeout")
    assert rang_out.returncode == ExitCode.OK, rang_out.stdout
    assert "Bob did not answer." in rang_out.stdout
    assert bot.wait() == 0
    assert any("letting it ring" in line for line in bot.lines)


def test_a_media_script_reports_each_step_as_a_change(softphone: Softphone, simulator: ServerProcess) -> None:
    # The answer waits until the caller has joined (while ringing: folded into the accept, not a change).
    policy = ("--answer-after", "0.5", "--media-script", "joined:good@0,:poor@0.3", "--hangup-after", "0.8", "--calls", "1")
    bot = start_bot(softphone, simulator, "bob", *policy)
    result = call(softphone, simulator, "bob", "--json")
    assert result.returncode == ExitCode.OK, result.stdout
    changes = [r for r in json_lines(result.stdout) if r["kind"] == "event" and r["source"] != "local" and "marker" not in r]
    # accept (no join: the script reports every stage), joined → ongoing, poor → ongoing again, hangup.
    assert [r["status"] for r in changes] == ["calling", "accepted", "ongoing", "ongoing", "ended"]
    state = softphone.run("state", str(changes[0]["call_id"]), "--user", "alice", "--server", simulator.base_url, "--json")
    media = json_lines(state.stdout)[0]["media"]["callee"]
    assert (media["stage"], media["network_quality"]) == ("joined", "poor")
    assert bot.wait() == 0
    assert any("reporting joined, good" in line for line in bot.lines)
    assert any("reporting joined, poor" in line for line in bot.lines)


def test_a_bot_places_calls_every_few_seconds_and_stops_after_n(softphone: Softphone, simulator: ServerProcess) -> None:
    bob = start_bot(softphone, simulator, "bob", "--hangup-after", "0.2", "--calls", "2")
    alice = start_bot(softphone, simulator, "alice", "--call", "bob", "--every", "0.5", "--calls", "2")
    assert alice.wait() == 0 and bob.wait() == 0
    assert sum("calling bob" in line for line in alice.lines) == 2
    assert any("(2 of 2)" in line for line in alice.lines)


def test_ctrl_c_hangs_up_a_call_in_progress_and_cancels_a_ringing_one(
    softphone: Softphone, simulator: ServerProcess
) -> None:
    start_bot(softphone, simulator, "bob")
    talking = softphone.start("call", "bob", "--user", "alice", "--server", simulator.base_url)
    talking.expect(lambda line: "In call with Bob." in line)
    assert talking.interrupt() == ExitCode.OK
    assert any("You hung up." in line for line in talking.lines)

    start_bot(softphone, simulator, "carol", "--ignore")
    ringing = softphone.start("call", "carol", "--user", "alice", "--server", simulator.base_url)
    ringing.expect(lambda line: "Calling Carol…" in line)
    assert ringing.interrupt() == ExitCode.EXPECTATION_FAILED
    assert any("You cancelled the call." in line for line in ringing.lines), ringing.lines


def test_a_bot_ends_its_call_when_interrupted(softphone: Softphone, simulator: ServerProcess) -> None:
    bot = start_bot(softphone, simulator, "bob")
    caller = softphone.start("call", "bob", "--user", "alice", "--server", simulator.base_url, "--json")
    caller.expect(lambda line: '"ongoing"' in line)
    assert bot.interrupt() == 0
    assert caller.wait() == ExitCode.OK
    assert json_lines("\n".join(caller.lines))[-1]["end_reason"] == "local_hangup"
    assert any("ended before leaving" in line for line in bot.lines)


def test_cancel_after_cancels_a_call_still_ringing(softphone: Softphone, simulator: ServerProcess) -> None:
    result = call(softphone, simulator, "carol", "--cancel-after", "0.2", "--expect", "cancelled:caller_cancel")
    assert result.returncode == ExitCode.OK, result.stdout
    assert "You cancelled the call." in result.stdout


async def test_a_user_id_and_a_conversation_place_a_call_without_the_directory(
    softphone: Softphone, simulator: ServerProcess
) -> None:
    async with CallClient(simulator.base_url, terminal_id="lookup") as client:
        await client.login("alice")
        bob = next(u for u in (await client.directory()).users if u.name == "bob")
    args = ("--conversation", str(bob.conversation_id), "--cancel-after", "0.2", "--expect", "cancelled")
    assert call(softphone, simulator, str(bob.user_id), *args).returncode == ExitCode.OK
    wrong = call(softphone, simulator, str(bob.user_id), "--conversation", "1")
    assert wrong.returncode == ExitCode.SERVER_REFUSED
    assert "41010 权限或关系校验失败" in wrong.stderr
    unknown = call(softphone, simulator, "zed")
    assert unknown.returncode == ExitCode.USAGE and "no contact named 'zed'" in unknown.stderr


async def test_a_busy_callee_is_exit_3_with_the_servers_code_and_message(
    softphone: Softphone, simulator: ServerProcess
) -> None:
    async with CallClient(simulator.base_url, terminal_id="carol-setup") as carol:
        await carol.login("carol")
        dave = next(u for u in (await carol.directory()).users if u.name == "dave")
        assert dave.conversation_id is not None
        await carol.start_call(dave.conversation_id, dave.user_id, "audio")
    human = call(softphone, simulator, "dave")
    assert human.returncode == ExitCode.SERVER_REFUSED
    assert human.stderr.strip().endswith("Dave is busy on another call (41003 对方忙线)")
    as_json = call(softphone, simulator, "dave", "--json")
    assert as_json.returncode == ExitCode.SERVER_REFUSED
    error = json_lines(as_json.stdout)[-1]
    assert (error["kind"], error["code"], error["message"], error["action"]) == ("error", 41003, "对方忙线", "start")


def test_a_5xx_envelope_is_exit_3_too(softphone: Softphone, server_factory: ServerFactory) -> None:
    server = server_factory(args=["--faults", "http-error=1"])
    result = call(softphone, server, "bob")
    assert result.returncode == ExitCode.SERVER_REFUSED
    assert "50300 服务暂不可用" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["call", "bob", "--user", "alice"],
        ["accept", "1", "--user", "bob"],
        ["state", "1", "--user", "alice", "--json"],
        ["watch", "--user", "alice"],
        ["bot", "--user", "bob"],
        ["token", "alice"],
    ],
)
def test_an_unreachable_server_is_exit_4(softphone: Softphone, args: list[str]) -> None:
    result = softphone.run(*args, "--server", "http://127.0.0.1:9")
    assert result.returncode == ExitCode.UNREACHABLE, result
    assert "cannot reach the server" in result.stdout + result.stderr
