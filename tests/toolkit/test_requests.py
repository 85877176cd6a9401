"""One request each (``accept`` ... ``state``), ``watch`` and ``token``, as real processes against a live simulator."""

from __future__ import annotations

from support.cli import Softphone, json_lines
from support.server import ServerProcess, wait_for

from softphone.api import CallClient
from softphone.exit_codes import ExitCode

from .conftest import Ring


def request(softphone: Softphone, server: ServerProcess, *args: str) -> object:
    return softphone.run(*args, "--server", server.base_url)


def one_event(stdout: str) -> dict[str, object]:
    (record,) = json_lines(stdout)
    assert record["kind"] == "event" and record["source"] == "response"
    return record


async def test_accept_media_state_and_hangup_each_send_one_request(
    softphone: Softphone, simulator: ServerProcess, ring: Ring
) -> None:
    call_id = str(await ring("alice", "bob"))

    accepted = request(softphone, simulator, "accept", call_id, "--user", "bob", "--json", "--terminal-id", "bob-desk")
    assert accepted.returncode == 0, accepted.stderr
    data = one_event(accepted.stdout)
    assert (data["call_id"], data["status"], data["version"]) == (int(call_id), "accepted", 2)
    assert data["channel_name"] == f"call_{call_id}_{data['channel_name'].split('_')[-1]}"
    assert "…" in str(data["rtc_token"]), "the RTC token is a credential: redacted"

    # No channel join came with the accept: the call is still "accepted" until a media report.
    joined = request(softphone, simulator, "media", call_id, "--stage", "joined", "--quality", "good", "--user", "bob",
                     "--terminal-id", "bob-desk", "--json")  # fmt: skip
    data = one_event(joined.stdout)
    assert (data["status"], data["version"]) == ("ongoing", 3) and data["started_at"]

    state = request(softphone, simulator, "state", call_id, "--user", "alice", "--json")
    data = one_event(state.stdout)
    assert (data["status"], data["caller_user_id"], data["callee_user_id"]) == ("ongoing", 10001, 20002)
    assert data["accepted_terminal_id"] == "bob-desk" and data["end_reason"] is None

    human = request(softphone, simulator, "hangup", call_id, "--user", "alice", "--reason", "tester_done")
    assert human.returncode == 0
    assert human.stdout.strip() == f"Call {call_id}: ended, v4. End reason: tester_done."
    told = request(softphone, simulator, "state", call_id, "--user", "bob")
    assert told.stdout.startswith(f"Call {call_id}: ended, v4, audio call from Alice to Bob. Accepted ")


async def test_reject_and_cancel_print_the_servers_answer(softphone: Softphone, simulator: ServerProcess, ring: Ring) -> None:
    rejected_id = str(await ring("alice", "bob"))
    rejected = request(softphone, simulator, "reject", rejected_id, "--user", "bob", "--reason", "not_now", "--json")
    data = one_event(rejected.stdout)
    assert (data["status"], data["end_reason"], data["version"]) == ("rejected", "not_now", 2)

    cancelled_id = str(await ring("carol", "dave"))
    cancelled = request(softphone, simulator, "cancel", cancelled_id, "--user", "carol")
    assert cancelled.stdout.strip() == f"Call {cancelled_id}: cancelled, v2. End reason: caller_cancel."


async def test_a_refused_request_is_exit_3_with_the_servers_code_and_message(
    softphone: Softphone, simulator: ServerProcess, ring: Ring
) -> None:
    call_id = str(await ring("alice", "bob"))
    human = request(softphone, simulator, "accept", call_id, "--user", "alice")
    assert human.returncode == ExitCode.SERVER_REFUSED
    assert human.stderr.strip() == f"accept {call_id}: 41004 非被叫方"
    as_json = request(softphone, simulator, "accept", call_id, "--user", "carol", "--json")
    assert as_json.returncode == ExitCode.SERVER_REFUSED and as_json.stderr == ""
    (error,) = json_lines(as_json.stdout)
    assert error | {"at": None} == {
        "kind": "error", "at": None, "code": 41004, "message": "非被叫方", "call_id": int(call_id), "action": "accept"
    }  # fmt: skip
    too_long = request(softphone, simulator, "reject", call_id, "--user", "bob", "--reason", "r" * 51)
    assert too_long.returncode == ExitCode.SERVER_REFUSED and "40001 参数错误" in too_long.stderr
    missing = request(softphone, simulator, "state", "999999", "--user", "alice")
    assert missing.returncode == ExitCode.SERVER_REFUSED and "41001 通话不存在" in missing.stderr


async def test_watch_prints_every_change_of_my_calls_until_interrupted(
    softphone: Softphone, simulator: ServerProcess, ring: Ring
) -> None:
    watching = softphone.start("watch", "--user", "bob", "--server", simulator.base_url, "--json")
    await wait_for(lambda: "Connected" in watching.stderr(), timeout=20)  # with --json, notes go to stderr
    call_id = await ring("alice", "bob")
    watching.expect(lambda line: '"calling"' in line)
    async with CallClient(simulator.base_url, terminal_id="alice-setup") as alice:
        await alice.login("alice")
        await alice.cancel(call_id)
    watching.expect(lambda line: '"cancelled"' in line)
    assert watching.interrupt() == 0
    records = json_lines("\n".join(watching.lines))
    events = [(r["call_id"], r["status"], r["source"]) for r in records if r["kind"] == "event"]
    assert events == [(call_id, "calling", "push"), (call_id, "cancelled", "push")]
    assert records[-1] | {"at": None} == {"kind": "summary", "at": None, "calls": 1, "events": 2}


async def test_watch_by_polling_says_it_in_words(softphone: Softphone, simulator: ServerProcess, ring: Ring) -> None:
    watching = softphone.start("watch", "--user", "dave", "--server", simulator.base_url, "--poll")
    watching.expect(lambda line: "Polling" in line)
    call_id = await ring("carol", "dave")
    watching.expect(lambda line: f"call {call_id}" in line and "Carol is calling." in line and " poll " in line)
    async with CallClient(simulator.base_url, terminal_id="carol-setup") as carol:
        await carol.login("carol")
        await carol.cancel(call_id)
    watching.expect(lambda line: "Carol cancelled the call." in line)
    assert watching.interrupt() == 0
    assert watching.lines[-1] == "Watched 1 call, 2 events."


def test_token_prints_a_token_that_signs_in(softphone: Softphone, simulator: ServerProcess) -> None:
    issued = request(softphone, simulator, "token", "alice")
    assert issued.returncode == 0 and issued.stderr == ""
    token = issued.stdout.strip()
    assert issued.stdout == token + "\n" and len(token) > 20
    args = ("--token", token, "--user-id", "10001")
    state = request(softphone, simulator, "state", "999999", *args)
    assert "41001 通话不存在" in state.stderr, "signed in (else 40101), and the call does not exist"
    unknown = request(softphone, simulator, "token", "nobody")
    assert unknown.returncode == ExitCode.SERVER_REFUSED and "40001" in unknown.stderr
    wrong = request(softphone, simulator, "state", "1", "--token", "not-a-token")
    assert wrong.returncode == ExitCode.SERVER_REFUSED and "40101 未登录或令牌无效" in wrong.stderr
