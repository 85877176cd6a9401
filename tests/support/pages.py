"""What the page tests share: every asset a page names, and how Debian's chromium is launched.

``References`` collects every script, stylesheet, icon, image and font a page names (with the
``url()``s of its style blocks and the document Swagger UI loads); ``assets_served_here`` fetches each
one, and what their stylesheets name, and fails on anything not served by the page's own server. ``CHROMIUM`` and ``CHROMIUM_ARGS`` launch Debian's chromium
through Playwright (``executable_path``): Playwright never downloads a browser here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

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


async def assets_served_here(client: httpx.AsyncClient, page_url: str, html: str) -> set[str]:
    """Every asset the page needs, each fetched from the page's own server; fails on one from elsewhere."""
    parser = References()
    parser.feed(html)
    pending = [urljoin(page_url, ref) for ref in parser.found if not ref.startswith("data:")]
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        assert urlsplit(url).netloc == urlsplit(page_url).netloc, f"{page_url} loads {url} from elsewhere"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".css"):  # fonts and images a stylesheet pulls in
            refs = (ref for pair in CSS_URL.findall(asset.text) for ref in pair if ref and not ref.startswith("data:"))
            pending.extend(urljoin(url, ref) for ref in refs)
    return seen
