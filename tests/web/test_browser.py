"""The phone in Debian's chromium, with every request beyond loopback blocked: the home screen appears.

A textual-serve page draws on a canvas, so the test reads what the app sends over the page's own
WebSocket (and keeps a screenshot for people). It skips, saying why, where chromium or Playwright is
missing; ``make browser-test`` installs chromium.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.pages import CHROMIUM, CHROMIUM_ARGS

from .conftest import ESCAPES, WebPhone

HOME_WORDS = ("Alice (alice #10001)", "Contacts", "Recent calls", "connected")
# Which @font-face the page loaded; a family no @font-face names would "check" true, so ask the faces.
FONT_LOADED = """document.fonts.ready.then(
    () => [...document.fonts].some(face => face.family.includes("Roboto Mono") && face.status === "loaded"))"""


async def test_the_page_shows_the_phone_with_nothing_from_beyond_loopback(web_phone: WebPhone, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed: make browser-test installs it"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: make browser-test installs Debian's chromium")
    blocked: list[str] = []
    drawn: list[bytes] = []

    async def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost", "::1"):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    def follow(socket: Any) -> None:
        """What the app draws comes in binary frames; text frames are textual-serve's own (pong...)."""
        socket.on("framereceived", lambda payload: isinstance(payload, bytes) and drawn.append(payload))

    def words() -> str:
        return ESCAPES.sub("", b"".join(drawn).decode("utf-8", "replace"))

    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.route("**/*", only_loopback)
            page.on("websocket", follow)
            await page.goto(web_phone.url)
            deadline = time.monotonic() + 30
            while not all(word in words() for word in HOME_WORDS):
                assert time.monotonic() < deadline, f"the page never drew the home screen: {words()[-2000:]}"
                await page.wait_for_timeout(100)  # the frames arrive in Playwright's callbacks meanwhile
            font_loaded = await page.evaluate(FONT_LOADED)
            await page.screenshot(path=str(tmp_path / "web.png"))
        finally:
            await browser.close()
    assert font_loaded, "Roboto Mono did not load from the page's own server"
    assert blocked == [], f"the page asked for {blocked}"
