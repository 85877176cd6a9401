"""``/docs`` works with no internet: every asset it references is served by the simulator itself.

The browser test loads the page in Debian's chromium (through Playwright) with every request beyond
loopback blocked; it skips, saying why, where either is missing (``make browser-test`` installs both).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support.pages import CHROMIUM, CHROMIUM_ARGS, assets_served_here
from support.server import ServerProcess

from .conftest import Api


async def test_docs_needs_nothing_from_beyond_this_server(api: Api) -> None:
    page = await api.client.get("/docs")
    assert page.status_code == 200
    base = str(page.url)
    seen = await assets_served_here(api.client, base, page.text)
    assert any(url.endswith(".js") for url in seen) and any(url.endswith(".css") for url in seen)
    assert f"{urlsplit(base).scheme}://{urlsplit(base).netloc}/openapi.json" in seen


async def test_there_is_no_redoc_page(api: Api) -> None:
    """ReDoc wants web fonts from the internet; Swagger UI is the one page, and it works offline."""
    assert (await api.client.get("/redoc")).status_code == 404


async def test_docs_renders_in_a_browser_with_no_network_beyond_loopback(shared_server: ServerProcess) -> None:
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed: make browser-test installs it"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: make browser-test installs Debian's chromium")
    document: dict[str, Any] = httpx.get(f"{shared_server.base_url}/openapi.json").json()
    operations = sum(len(item) for item in document["paths"].values())
    blocked: list[str] = []

    async def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost", "::1"):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.route("**/*", only_loopback)
            await page.goto(f"{shared_server.base_url}/docs")
            listed = page.locator(".opblock")
            await listed.nth(operations - 1).wait_for(timeout=15_000)
            assert await listed.count() == operations
            assert "/api/calls/session" in await page.content()
        finally:
            await browser.close()
    assert blocked == [], f"the page asked for {blocked}"
