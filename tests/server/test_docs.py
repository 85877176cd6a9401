"""``/docs`` works with no internet: every asset it references is served by the simulator itself.

The browser test loads the page in Debian's chromium (through Playwright) with every request beyond
loopback blocked; it skips, saying why, where either is missing (``make browser-test`` installs both).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from support.server import ServerProcess

from .conftest import Api

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")
SPEC_URL = re.compile(r"""\burl:\s*['"]([^'"]+)['"]""")


class References(HTMLParser):
    """Every script, stylesheet, icon, image and font a page names, and style blocks' ``url()``s."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "srcset", "data"):
            if attributes.get(name) and tag in ("script", "link", "img", "source", "object", "iframe", "embed"):
                self.found.append(str(attributes[name]).split()[0])
        if attributes.get("style"):
            self.found.extend(ref for pair in CSS_URL.findall(str(attributes["style"])) for ref in pair if ref)

    def handle_data(self, data: str) -> None:
        self.found.extend(ref for pair in CSS_URL.findall(data) for ref in pair if ref)
        self.found.extend(SPEC_URL.findall(data))  # the document Swagger UI loads


async def test_docs_needs_nothing_from_beyond_this_server(api: Api) -> None:
    page = await api.client.get("/docs")
    assert page.status_code == 200
    base = str(page.url)
    parser = References()
    parser.feed(page.text)
    pending = [urljoin(base, ref) for ref in parser.found if not ref.startswith("data:")]
    assert any(url.endswith(".js") for url in pending) and any(url.endswith(".css") for url in pending)
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        assert urlsplit(url).netloc == urlsplit(base).netloc, f"/docs loads {url} from elsewhere"
        asset = await api.client.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".css"):  # fonts and images a stylesheet pulls in
            refs = (ref for pair in CSS_URL.findall(asset.text) for ref in pair if ref and not ref.startswith("data:"))
            pending.extend(urljoin(url, ref) for ref in refs)
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
