"""The page in a real headless Chromium: playing, streaming, reloading, progress, hints, the summary,
languages, secrecy, login."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.fakes.upstream import FakeUpstream, Reply
from tests.web.conftest import PACK, SECRET
from tests.web.payloads import NetworkCapture

ANSWERS = {puzzle["title"]: puzzle["answer"] for puzzle in yaml.safe_load(PACK)["puzzles"]}
KEY_FACTS = {puzzle["title"]: puzzle.get("key_facts", []) for puzzle in yaml.safe_load(PACK)["puzzles"]}
HINTS = {puzzle["title"]: puzzle.get("hints", []) for puzzle in yaml.safe_load(PACK)["puzzles"]}
# A question naming the first key fact, which the host's facts line then credits.
FIRST_FACT_QUESTIONS = {
    "The Seaside Restaurant": "Was he shipwrecked on a desert island?",
    "The Elevator": "Is he too short to reach the button?",
}
# A guess that names part of each answer, so the host's "Correct" is believed.
GUESSES = {
    # A whole right guess: a solve covers every fact not yet found (the shipwreck and the soup).
    "The Seaside Restaurant": "Was he shipwrecked on an island and fed soup made from his dead wife?",
    "The Elevator": "Is he too short to reach the button?",
}
# The answers' last words: a reply that quotes an answer is cut off long before them.
ENDINGS = {"The Seaside Restaurant": "understood what he had eaten", "The Elevator": "tip of his umbrella"}
TIMEOUT_MS = 15_000  # generous: other work may be loading the machine
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: its own local storage, so its own game."""
    context = browser.new_context(viewport={"width": 1000, "height": 960})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def open_game(context: BrowserContext, url: str) -> tuple[Page, str]:
    page = context.new_page()
    return page, load_game(page, url)


def load_game(page: Page, url: str) -> str:
    """Open the page and wait for its puzzle; the puzzle's title."""
    page.goto(url)
    heading = page.locator("#story h2")
    expect(heading).to_be_visible()
    return heading.inner_text().strip()


def ask(page: Page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def test_play_stream_reload_solve_and_new_puzzle(
    context: BrowserContext, web_url: str, fake_upstream: FakeUpstream, artifacts: Path
) -> None:
    gate = threading.Event()
    page, title = open_game(context, web_url)
    transcript = page.locator("#transcript")
    fake_upstream.queue(Reply(chunks=["No. ", "Think about", " what came before."], gate=gate))
    ask(page, "Was it the first time he ate there?")
    # The first piece is on the page, marked as still coming, while the rest is held back upstream.
    expect(transcript).to_contain_text("No. ⏳")
    expect(transcript).not_to_contain_text("Think about")
    gate.set()
    expect(transcript).to_contain_text("❌ No. Think about what came before.")
    expect(transcript).not_to_contain_text("⏳")
    expect(page.locator("#question textarea")).to_have_value("")
    page.screenshot(path=str(artifacts / "web.png"))

    page.reload()
    expect(page.locator("#story h2")).to_have_text(title)
    expect(transcript).to_contain_text("Was it the first time he ate there?")
    expect(transcript).to_contain_text("❌ No. Think about what came before.")

    fake_upstream.queue(Reply.text("Correct! That is the whole story."))
    ask(page, GUESSES[title])
    notice = page.locator("#notice")
    expect(notice).to_contain_text("Solved")
    expect(notice).to_contain_text(ANSWERS[title].split(".")[0])
    expect(page.locator("#ask")).to_be_disabled()

    page.locator("#new-puzzle").click()
    other = next(name for name in GUESSES if name != title)  # the puzzle not played recently
    expect(page.locator("#story h2")).to_have_text(other)
    expect(notice).to_have_text("")
    expect(transcript).not_to_contain_text("Was it the first time")
    expect(page.locator("#ask")).to_be_enabled()


def test_a_leaking_reply_and_the_answer_never_reach_the_browser(
    context: BrowserContext, web_url: str, fake_upstream: FakeUpstream
) -> None:
    page = context.new_page()
    network = NetworkCapture(context, page)  # listening before the page loads
    title = load_game(page, web_url)
    answer = ANSWERS[title]
    fake_upstream.queue(Reply.text(f"Yes. {answer}", size=6))
    ask(page, "Did something happen before the story?")
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("✅ Yes")
    expect(transcript).not_to_contain_text("⏳")
    assert len(fake_upstream.requests) == 1
    # Everything the page got for the two events so far (loading, asking), to their ends.
    received = network.wait_for(page, '"msg":"process_completed"', count=2)
    assert "Did something happen before the story?" in received  # the capture sees the game's traffic
    assert answer not in received
    assert ENDINGS[title] not in received

    page.locator("#stop").click()
    expect(page.locator("#notice")).to_contain_text(ENDINGS[title])
    network.wait_for(page, ENDINGS[title])  # the same capture sees the answer once the game is over


def test_progress_hint_and_summary_and_unfound_facts_stay_on_the_server(
    context: BrowserContext, web_url: str, fake_upstream: FakeUpstream
) -> None:
    page = context.new_page()
    network = NetworkCapture(context, page)  # listening before the page loads
    title = load_game(page, web_url)
    found, unfound = KEY_FACTS[title]
    fake_upstream.queue(Reply.text("Yes, that is part of it.\n[facts: 1]"))
    ask(page, FIRST_FACT_QUESTIONS[title])
    progress = page.locator("#progress")
    expect(progress).to_contain_text("🟩⬜ 1/2")
    # Until the end a found fact shows as its number and the finder's question, not its text.
    expect(progress).to_contain_text(FIRST_FACT_QUESTIONS[title])
    expect(progress).not_to_contain_text(found)
    expect(page.locator("#transcript")).not_to_contain_text("[facts")

    page.locator("#hint").click()
    notice = page.locator("#notice")
    expect(notice).to_contain_text(f"Hint 1/3 (asked for by you): {HINTS[title][0]}")
    assert len(fake_upstream.requests) == 1  # a stored hint: no model call
    network.wait_for(page, '"msg":"process_completed"', count=3)  # load, ask, hint
    received = network.wait_for(page, HINTS[title][0])  # the capture sees the hint's event too
    assert unfound not in received
    assert ANSWERS[title] not in received and ENDINGS[title] not in received

    page.locator("#stop").click()
    summary = page.locator("#summary")
    expect(summary).to_contain_text("Game summary")
    expect(summary).to_contain_text("Hints used: 1/3")
    expect(summary).to_contain_text("Key facts found: 1/2")
    expect(summary).to_contain_text(f"{found} — found by you")
    expect(summary).to_contain_text(unfound)
    expect(notice).to_contain_text(ENDINGS[title])
    expect(progress).to_have_text("")
    expect(page.locator("#hint")).to_be_disabled()


def test_chinese_a_failing_host_and_separate_sessions(
    context: BrowserContext, browser: Browser, web_url: str, fake_upstream: FakeUpstream
) -> None:
    page, _ = open_game(context, web_url)
    page.get_by_label("中文").check()
    expect(page.locator("#story h2")).to_have_text("隧道")
    expect(page.locator("#ask")).to_have_text("提问")
    expect(page.locator("#new-puzzle")).to_have_text("新的谜题")
    expect(page.locator("#transcript [data-testid='block-label']")).to_have_text("问答记录")
    fake_upstream.queue(Reply(status=500))
    ask(page, "他失明了吗？")
    expect(page.locator("#transcript")).to_contain_text("主持人暂时无法回答")

    other = browser.new_context()
    try:
        other_page, _ = open_game(other, web_url)
        expect(other_page.locator("#ask")).to_have_text("Ask")
        expect(other_page.locator("#transcript [data-testid='block-label']")).to_have_text("Questions and answers")
        expect(other_page.locator("#transcript")).not_to_contain_text("他失明了吗")
    finally:
        other.close()


def test_the_shared_secret_guards_the_page(context: BrowserContext, secret_url: str) -> None:
    page = context.new_page()
    page.goto(secret_url)
    expect(page.get_by_text("the secret as the password")).to_be_visible()  # web.auth's login message
    log_in(page, "wrong")
    expect(page.get_by_text("Incorrect")).to_be_visible()
    expect(page.locator("#story")).to_have_count(0)
    log_in(page, SECRET)
    expect(page.locator("#story h2")).to_be_visible()


def log_in(page: Page, password: str) -> None:
    page.get_by_label("username").fill("player")  # any name: only the secret counts
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
