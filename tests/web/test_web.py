"""``softphone web`` without a browser: the page and every asset it names come from our own server, and
each tab over textual-serve's WebSocket is a phone of its own that hangs up when the tab closes.
"""

from __future__ import annotations

import asyncio
import re
import sys

import httpx
import pytest
from click.testing import CliRunner
from support.pages import assets_served_here
from support.server import wait_for
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from softphone.api import CallClient, CallState
from softphone.cli import main
from softphone.web import phone_command

from .conftest import TERMINAL_ID, OpenTab, WebPhone

HOME_WORDS = ("Alice (alice #10001)", "Contacts", "Recent calls")


async def test_the_page_needs_nothing_from_beyond_this_machine(web_phone: WebPhone) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(web_phone.url)
        assert page.status_code == 200 and "fonts.googleapis" not in page.text
        seen = await assets_served_here(client, f"{web_phone.url}/", page.text)
    paths = {url.removeprefix(web_phone.url) for url in seen}
    assert {"/static/js/textual.js", "/static/css/xterm.css", "/static/images/background.png"} <= paths
    assert "/static/fonts/RobotoMono-VariableFont_wght.ttf" in paths  # the terminal's font, served here


async def test_a_tab_starts_the_phone_at_home(open_tab: OpenTab) -> None:
    tab = await open_tab()
    await tab.until_shows(*HOME_WORDS, "connected")


async def test_each_tab_is_a_phone_of_its_own(open_tab: OpenTab) -> None:
    first, second = await open_tab(), await open_tab()
    terminals = []
    for tab in (first, second):
        text = await tab.until_shows(*HOME_WORDS)
        terminals.append(TERMINAL_ID.search(text)[0])  # type: ignore[index]
    assert terminals[0] != terminals[1]


async def test_closing_a_tab_mid_call_hangs_up(web_phone: WebPhone, open_tab: OpenTab) -> None:
    tab = await open_tab()
    await tab.until_shows(*HOME_WORDS, "connected")
    bob = CallClient(web_phone.simulator.base_url, terminal_id="bob-headless")
    try:
        await bob.login("bob")
        alice = next(user for user in (await bob.directory()).users if user.name == "alice")
        assert alice.conversation_id is not None
        call_id = (await bob.start_call(alice.conversation_id, alice.user_id, "audio")).call_id
        await bob.report_media(call_id, "joined", "good")
        await tab.until_shows("Incoming audio call from")
        final: list[CallState] = []

        async def status_is(*wanted: str) -> bool:
            final[:] = [await bob.call_state(call_id)]
            return final[0].status in wanted

        async def answered() -> bool:
            # Keys within a moment of a screen appearing do nothing there (so a key meant for the screen
            # before cannot answer a call): press again, as a person would, until the call is answered.
            await tab.press("a")
            return await status_is("accepted", "ongoing")

        await wait_for(answered, timeout=15, interval=0.2)
        await wait_for(lambda: status_is("ongoing"), timeout=15)
        answered_on = final[0].accepted_terminal_id
        assert answered_on is not None and re.fullmatch(TERMINAL_ID, answered_on)
        await tab.socket.close()
        await wait_for(lambda: status_is("ended"), timeout=20)
    finally:
        await bob.aclose()
    assert (final[0].end_reason, final[0].ended_by_terminal_id) == ("local_hangup", answered_on)


async def test_pages_and_sockets_of_other_sites_are_refused(web_phone: WebPhone) -> None:
    """DNS rebinding, or any web page opening ws://127.0.0.1:PORT/ws, would otherwise get a phone."""
    assert httpx.get(web_phone.url, headers={"Host": "evil.example"}).status_code == 400
    socket_url = web_phone.url.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus) as refused:
        await asyncio.wait_for(connect(socket_url, origin="http://evil.example"), 10)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 400
    async with connect(socket_url, origin=web_phone.url) as allowed:  # type: ignore[arg-type]
        await allowed.close()


def test_a_host_beyond_loopback_needs_allow_remote() -> None:
    result = CliRunner().invoke(main, ["web", "--host", "0.0.0.0", "--server", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--host 0.0.0.0 is beyond loopback: add --allow-remote" in result.output


def test_the_options_reach_every_tabs_phone(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, object] = {}
    monkeypatch.setattr("softphone.web.serve", lambda options, **where: served.update(options=options, **where))
    arguments = ["web", "--host", "0.0.0.0", "--allow-remote", "--port", "8123", "--server", "http://127.0.0.1:1"]
    result = CliRunner().invoke(main, [*arguments, "--token", "t0k", "--user-id", "7", "--poll", "--no-bell"])
    assert result.exit_code == 0, result.output
    assert "WARNING: serving the phone on 0.0.0.0" in result.output
    assert served == {
        "options": ["--server", "http://127.0.0.1:1", "--token", "t0k", "--user-id", "7", "--poll", "--no-bell"],
        "host": "0.0.0.0",
        "port": 8123,
        "allow_remote": True,
    }
    assert phone_command(["--user", "a b"]) == f"exec {sys.executable} -m softphone --user 'a b'"
