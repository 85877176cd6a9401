"""The ``media`` ext field: each party's last report as of a version, moving only with the version."""

from __future__ import annotations

from typing import Any

from support.server import ServerProcess
from websockets.asyncio.client import connect

from softphone.api import CallMedia

from .conftest import BOB, CALLEE_TERMINAL, CALLER_TERMINAL, Api, Parties
from .test_push import frames_until_pong, next_frame

NOBODY = {"caller": None, "callee": None}


def party(media: dict[str, Any] | None) -> tuple[str, str | None] | None:
    """What a party said, without the time it said it."""
    return None if media is None else (media["stage"], media["network_quality"])


def said(state: dict[str, Any]) -> tuple[Any, Any]:
    return party(state["media"]["caller"]), party(state["media"]["callee"])


async def test_media_moves_only_with_the_version_and_the_accept_folds_in_the_callers_report(parties: Parties) -> None:
    api, alice, bob = parties.api, parties.alice, parties.bob
    call_id = (await api.start(alice, BOB))["data"]["call_id"]
    started = (await api.state(call_id, alice))["data"]
    assert started["media"] == NOBODY

    # While ringing a report is stored, not a change: version 1 keeps saying nobody reported.
    await api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="joined", network_quality="good")
    assert (await api.state(call_id, bob))["data"] == started

    await api.act(call_id, "accept", bob, CALLEE_TERMINAL)
    accepted = (await api.state(call_id, bob))["data"]
    assert accepted["version"] == 2 and said(accepted) == (("joined", "good"), None)
    assert accepted["media"]["caller"]["reported_at"] is not None

    await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined")
    ongoing = (await api.state(call_id, alice))["data"]
    assert ongoing["version"] == 3 and said(ongoing) == (("joined", "good"), ("joined", None))

    # A repeat is not a change: the state at version 3 stays exactly what it was.
    await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined")
    assert (await api.state(call_id, alice))["data"] == ongoing

    await api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="reconnecting", network_quality="poor")
    assert said((await api.state(call_id, bob))["data"]) == (("reconnecting", "poor"), ("joined", None))

    await api.act(call_id, "hangup", bob, CALLEE_TERMINAL)
    ended = (await api.state(call_id, alice))["data"]
    assert ended["version"] == 5 and said(ended) == (("reconnecting", "poor"), ("joined", None))
    CallMedia.model_validate(ended["media"])  # the shared wire model reads what the server wrote


async def test_a_participants_media_is_its_last_report_from_any_terminal(parties: Parties) -> None:
    api, alice, bob = parties.api, parties.alice, parties.bob
    call_id = (await api.start(alice, BOB))["data"]["call_id"]
    await api.act(call_id, "accept", bob, CALLEE_TERMINAL)
    await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined", network_quality="good")
    await api.act(call_id, "media-state", bob, "bob-tablet", stage="joining")
    assert said((await api.state(call_id, alice))["data"]) == (None, ("joining", None))


async def test_pushes_carry_the_media_of_their_version(shared_server: ServerProcess, http_api: Api) -> None:
    alice, bob = await http_api.login("alice"), await http_api.login("bob")
    async with connect(f"{shared_server.ws_url}?terminal_id=a", additional_headers={"Authorization": f"Bearer {alice}"}) as ws:
        await next_frame(ws)
        call_id = (await http_api.start(alice, BOB))["data"]["call_id"]
        await http_api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="joined")
        await http_api.act(call_id, "accept", bob, CALLEE_TERMINAL)
        await http_api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined", network_quality="good")
        frames = await frames_until_pong(ws)
    assert [(frame["data"]["version"], said(frame["data"])) for frame in frames] == [
        (1, (None, None)),
        (2, (("joined", None), None)),
        (3, (("joined", None), ("joined", "good"))),
    ]
    assert frames[-1]["data"] == (await http_api.state(call_id, bob))["data"]
