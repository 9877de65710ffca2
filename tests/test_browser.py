"""The built book in a real browser: Debian's headless Chromium, the site served on localhost.

Screenshots of the home page and of a milestone page go to test-artifacts/.
"""
import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import require, require_module

from test_book import ROOT, SEED_ORDER, site, toc_captions, toc_docnames  # noqa: F401  (site: fixture)
from tinytorch_course import book

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.xdist_group("book"), pytest.mark.slow]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the browser moved on
            pass


@pytest.fixture(scope="module")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=site))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser tab that records console errors, page errors, failed requests and any request
    that leaves the local server."""

    def __init__(self, browser, base):
        self.base = base
        self.tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.problems = []
        self.tab.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.tab.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.tab.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.tab.on("request", lambda r: r.url.startswith(base) or self.problems.append(f"external: {r.url}"))
        self.tab.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def open(self, url, settle=True):
        self.tab.goto(urljoin(self.base, url))
        self.tab.wait_for_load_state("networkidle" if settle else "load")
        return self.tab


@pytest.fixture
def page(browser, server):
    tab = Page(browser, server)
    yield tab
    tab.tab.close()


def sidebar_links(tab):
    return tab.eval_on_selector_all("nav.bd-docs-nav a.reference.internal", "links => links.map(a => a.href)")


def test_home_page_loads_without_errors(page):
    tab = page.open("")
    assert tab.url.endswith("/book/intro.html")
    assert tab.locator("h1").first.inner_text().startswith("TinyTorch")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "home.png"))
    assert not page.problems, page.problems


def test_sidebar_shows_the_phases_in_the_seed_order(page):
    tab = page.open("")
    captions = [c.strip() for c in tab.locator("nav.bd-docs-nav p.caption").all_inner_texts()]
    assert captions == toc_captions()
    names = [c.split(" ", 1)[1] for c in captions if c.split(" ", 1)[-1] in SEED_ORDER]
    assert names == SEED_ORDER
    assert "Advanced Topics" in captions[-3] and "Competition" in captions[-2]


def test_every_page_in_the_toc_is_reachable_from_the_sidebar(page, server):
    tab = page.open("")
    links = sidebar_links(tab)
    paths = {urlsplit(link).path.lstrip("/") for link in links}
    expected = {f"{docname}.html" for docname in toc_docnames()}
    assert paths == expected
    for link in links:
        tab = page.open(link, settle=False)
        assert tab.locator("article h1").count() >= 1, link
        assert len(sidebar_links(tab)) == len(links), link
    assert not page.problems, page.problems


def test_search_finds_autograd(page):
    tab = page.open("search.html?q=autograd")
    results = tab.locator("#search-results ul.search li")
    results.first.wait_for(timeout=15000)
    assert results.count() >= 1
    assert "autograd" in tab.locator("#search-results").inner_text().lower()
    assert not page.problems, page.problems


def test_milestone_page_shows_its_plot(page):
    found = book.milestones()
    require(found, "a milestone notebook in book/milestones")
    first = min(found)
    docname = found[first].relative_to(ROOT).with_suffix("").as_posix()
    tab = page.open(f"{docname}.html")
    images = tab.locator(".cell_output img")
    assert images.count() >= 1
    image = images.first
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 50")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"milestone-{first:02d}.png"))
    assert not page.problems, page.problems


def test_leaderboard_page_shows_each_event_and_its_plot(page):
    tab = page.open("book/competition/leaderboard.html")
    assert tab.locator("article h1").first.inner_text().startswith("Leaderboard")
    for event in ("Quality under a size cap", "Speed under a quality floor", "Smallest under a quality floor"):
        section = tab.locator(f"xpath=//section[h2[contains(., '{event}')]]")
        assert section.count() == 1 and section.locator("table tbody tr").count() >= 1, event
    image = tab.locator("article img").first
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 50")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "leaderboard.png"))
    assert not page.problems, page.problems
