"""Limits per client address, in a real headless Chromium behind a (pretend) reverse proxy.

A session token is the browser's own choice, so a fresh profile (a made-up token) used to get a fresh
limit and a new game each time. Each browser context here sends the X-Forwarded-For header a proxy
would, with a made-up first entry the client chose: only the last entry, the proxy's, counts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.fakes.redis_server import RedisServer
from tests.fakes.upstream import FakeUpstream
from tests.web.conftest import WebServer, _config, _launch, _stop, _wait_ready

TIMEOUT_MS = 15_000
GAMES_PER_HOUR = 3
ACTIONS_PER_MINUTE = 4
LIMITS = (
    "{trusted_proxy_header: X-Forwarded-For, "
    f"actions_per_minute_per_address: {ACTIONS_PER_MINUTE}, new_games_per_hour_per_address: {GAMES_PER_HOUR}}}"
)
_spoofed = itertools.count(1)


@pytest.fixture(scope="module")
def limited_url(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, upstream_server: FakeUpstream
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("web-limits")
    log = folder / "limited.log"
    server: WebServer = _launch(_config(folder / "limited", redis_server.url, upstream_server, LIMITS), log)
    try:
        _wait_ready(server, log)
        yield server.url
    finally:
        _stop(server)


def behind_proxy(browser: Browser, address: str) -> BrowserContext:
    """A fresh profile (its own session token) whose requests reach the page through the proxy."""
    forwarded = f"10.9.8.{next(_spoofed)}, {address}"  # the first entry is the client's own say
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": forwarded})
    context.set_default_timeout(TIMEOUT_MS)
    return context


def load(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    expect(page.locator("#intro")).to_be_visible(timeout=TIMEOUT_MS)
    return page


def test_one_address_opens_only_so_many_games_whatever_tokens_it_makes_up(
    browser: Browser, limited_url: str, fake_upstream: FakeUpstream
) -> None:
    contexts = [behind_proxy(browser, "203.0.113.7") for _ in range(GAMES_PER_HOUR + 1)]
    other = behind_proxy(browser, "198.51.100.4")
    try:
        for context in contexts[:GAMES_PER_HOUR]:
            expect(load(context, limited_url).locator("#story h2")).to_be_visible(timeout=TIMEOUT_MS)
        refused = load(contexts[-1], limited_url)
        notice = refused.locator("#notice")
        # Its first game started seconds ago, so the hour frees a game in 60 minutes (59 on a slow machine).
        wait = re.compile(r"Too many new puzzles from your address: try again in (59|60) minute")
        expect(notice).to_contain_text(wait)
        expect(refused.locator("#story h2")).to_have_count(0)
        refused.locator("#new-puzzle").click()  # New puzzle starts a game too
        expect(notice).to_contain_text("Too many new puzzles from your address")
        expect(refused.locator("#story h2")).to_have_count(0)
        # Another address is not held back by the first one's games.
        expect(load(other, limited_url).locator("#story h2")).to_be_visible(timeout=TIMEOUT_MS)
    finally:
        for context in [*contexts, other]:
            context.close()


def test_questions_from_one_address_share_its_limit_across_sessions(
    browser: Browser, limited_url: str, fake_upstream: FakeUpstream
) -> None:
    contexts = [behind_proxy(browser, "192.0.2.55") for _ in range(2)]
    try:
        pages = [load(context, limited_url) for context in contexts]
        for page in pages:
            expect(page.locator("#story h2")).to_be_visible(timeout=TIMEOUT_MS)
        for number in range(ACTIONS_PER_MINUTE):  # alternating sessions: each alone is far under its own 20
            page = pages[number % 2]
            page.locator("#question textarea").fill(f"Question {number}: was it raining?")
            page.locator("#ask").click()
            expect(page.locator("#transcript")).to_contain_text(f"Question {number}: was it raining?")
        over = pages[ACTIONS_PER_MINUTE % 2]
        over.locator("#question textarea").fill("One question too many: was he alone?")
        over.locator("#ask").click()
        expect(over.locator("#notice")).to_contain_text("Slow down a little: try again in")
        expect(over.locator("#transcript")).not_to_contain_text("One question too many")
    finally:
        for context in contexts:
            context.close()
