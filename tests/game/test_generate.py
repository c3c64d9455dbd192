"""Puzzle generation against the scripted upstream over real HTTP: the JSON request, every way a draft is refused
(bad JSON, a missing field, a story that states a key fact, too long, a near-duplicate), the reason fed back into
the next prompt, retries running out in a clear failure, thinking left out, and a model that cannot be reached."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.game.generate import GenerationFailed, PuzzleGenerator
from bot.game.host import ModelHost
from bot.game.puzzles import Puzzle, parse_pack
from common.config import ModelConfig
from tests.fakes.puzzle_texts import LADDER_DRAFT, PAINTING_DRAFT
from tests.fakes.upstream import FakeUpstream, Reply

KNOWN = Puzzle(
    id="known-hiccups",
    language="en",
    title="A Glass of Water",
    story="A man walks into a bar and asks for a glass of water. The bartender points a gun at him. The man thanks "
    "him and leaves.",
    answer="The man had hiccups and wanted water to cure them. The bartender cured them faster with a fright, so the "
    "man no longer needed the water.",
    key_facts=("The man had hiccups.", "The gun was meant to frighten him."),
)


def draft(**changes: Any) -> str:
    fields = {**LADDER_DRAFT, **changes}
    return json.dumps({name: value for name, value in fields.items() if value is not None}, ensure_ascii=False)


@pytest.fixture
async def host(fake_upstream: FakeUpstream) -> AsyncIterator[ModelHost]:
    config = ModelConfig(base_url=fake_upstream.base_url, api_key="k", name="writer-1", max_retries=0)
    client = ModelHost(config)
    yield client
    await client.close()


def generator(host: ModelHost, attempts: int = 3) -> PuzzleGenerator:
    async def known() -> list[Puzzle]:
        return [KNOWN]

    return PuzzleGenerator(host, known, max_attempts=attempts)


async def test_a_good_draft_is_asked_for_as_json_and_comes_back_a_checked_puzzle(
    fake_upstream: FakeUpstream, host: ModelHost
) -> None:
    fake_upstream.queue(Reply.text(draft(), size=16))
    made = await generator(host).generate("en", theme="winter sports")
    puzzle = made.puzzle
    assert (puzzle.title, puzzle.language, puzzle.difficulty) == ("The Ladder on the Ice", "en", "easy")
    assert puzzle.key_facts == tuple(LADDER_DRAFT["key_facts"]) and puzzle.hints == tuple(LADDER_DRAFT["hints"])
    assert puzzle.generated_by == "writer-1" and puzzle.id.startswith("the-ladder-on-the-ice-")
    assert [attempt.reason for attempt in made.attempts] == [None]
    [request] = fake_upstream.requests
    assert request["response_format"]["type"] == "json_schema"
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["title", "story", "answer", "key_facts", "hints", "difficulty"]
    assert schema["properties"]["key_facts"]["minItems"] == 2 and schema["properties"]["hints"]["maxItems"] == 3
    assert "winter sports" in request["messages"][-1]["content"]


async def test_the_admins_difficulty_wins_and_a_chinese_draft_passes(
    fake_upstream: FakeUpstream, host: ModelHost
) -> None:
    fake_upstream.queue(Reply.text(json.dumps(PAINTING_DRAFT, ensure_ascii=False), size=16))
    made = await generator(host).generate("zh", difficulty="hard")
    assert made.puzzle.language == "zh" and made.puzzle.difficulty == "hard"
    assert "难度困难" in fake_upstream.requests[0]["messages"][-1]["content"]


async def test_thinking_fences_and_prose_around_the_json_are_left_out(
    fake_upstream: FakeUpstream, host: ModelHost
) -> None:
    fake_upstream.queue(Reply.thinking("deepseek_reasoner", "A ladder puzzle, then. {not json}", draft()))
    assert (await generator(host).generate("en")).puzzle.title == LADDER_DRAFT["title"]
    fake_upstream.queue(
        Reply.text(f"<think>Let me write {{it}}.</think>\nHere it is:\n```json\n{draft()}\n```\nEnjoy!")
    )
    assert (await generator(host).generate("en")).puzzle.title == LADDER_DRAFT["title"]
    fake_upstream.queue(Reply.text(draft().replace("Every dawn", "Every\ndawn")))  # a raw line break in a string
    assert (await generator(host).generate("en")).puzzle.story.startswith("Every\ndawn")


async def test_every_refusal_is_fed_back_and_running_out_ends_in_a_clear_failure(
    fake_upstream: FakeUpstream, host: ModelHost
) -> None:
    stated = draft(story=LADDER_DRAFT["story"] + " The ladder is for getting out if the ice breaks.")
    fake_upstream.queue(
        Reply.text('{"title": "Broken", "story": "cut off'),
        Reply.text(draft(hints=None)),
        Reply.text(stated),
    )
    with pytest.raises(GenerationFailed) as failed:
        await generator(host).generate("en")
    reasons = [attempt.reason for attempt in failed.value.attempts]
    assert reasons[0] is not None and reasons[0].startswith("the reply's JSON is malformed")
    assert reasons[1] == "missing field(s): hints"
    assert reasons[2] == (
        "key_facts: key fact 1: already stated in the story ('The ladder is for getting out if the ice breaks.')"
    )
    assert str(failed.value).startswith("no usable puzzle in 3 draft(s): 1) the reply's JSON is malformed")
    prompts = [request["messages"][-1]["content"] for request in fake_upstream.requests]
    assert "refused: the reply's JSON is malformed" in prompts[1] and "refused: missing field(s): hints" in prompts[2]


async def test_too_long_not_json_and_a_near_duplicate_are_refused_then_a_good_draft_is_kept(
    fake_upstream: FakeUpstream, host: ModelHost
) -> None:
    copy = draft(
        title="Water at the Bar",
        story="A man asks a bartender for a glass of water, and the bartender aims a gun at him. The man says thank "
        "you and goes.",
        answer="The man had the hiccups and wanted water to stop them; the bartender's gun gave him a fright that "
        "stopped them at once, so he no longer needed water.",
        key_facts=["The man had hiccups.", "The fright cured them."],
    )
    fake_upstream.queue(
        Reply.text(draft(story="It was a dark night." * 80)),
        Reply.text("I cannot write puzzles today."),
        Reply.text(copy),
        Reply.text(draft()),
    )
    made = await generator(host, attempts=4).generate("en")
    reasons = [attempt.reason for attempt in made.attempts]
    assert reasons[0] == "story: too long (1600 characters, at most 1200)"
    assert reasons[1] == "the reply holds no JSON object (it began: 'I cannot write puzzles today.')"
    assert reasons[2] is not None and reasons[2].startswith(
        "it repeats the known puzzle 'A Glass of Water' (meaning 0."
    )
    assert reasons[3] is None and made.puzzle.title == LADDER_DRAFT["title"]


async def test_a_draft_the_pack_validator_refuses_names_the_field(fake_upstream: FakeUpstream, host: ModelHost) -> None:
    fake_upstream.queue(
        Reply.text(draft(key_facts=["Only one fact."])),
        Reply.text(draft(difficulty="impossible", hints=["One hint."])),
        Reply.text(draft(difficulty="impossible")),
        Reply.text(draft(hints=["Look at the lake.", "Her brother once fell through the ice."])),
    )
    with pytest.raises(GenerationFailed) as failed:
        await generator(host, attempts=4).generate("en")
    assert [attempt.reason for attempt in failed.value.attempts] == [
        "key_facts: expected 2 to 5 key facts, got 1",
        "hints: expected 2 to 3 hints, got 1",
        "difficulty: unknown difficulty 'impossible' (expected easy, medium or hard)",
        "hints: hint 2 states key fact 2 (a hint must not give it away)",
    ]


async def test_an_endpoint_that_refuses_the_schema_gets_json_object_and_one_that_is_down_a_clear_failure(
    fake_upstream: FakeUpstream, host: ModelHost
) -> None:
    refusal = {"message": "Unsupported: response_format json_schema", "type": "invalid_request_error"}
    fake_upstream.queue(Reply(status=400, error=refusal), Reply.text(draft()))
    assert (await generator(host).generate("en")).puzzle.title == LADDER_DRAFT["title"]
    assert [request.get("response_format", {}).get("type") for request in fake_upstream.requests] == [
        "json_schema",
        "json_object",
    ]
    fake_upstream.queue(Reply(status=503))
    with pytest.raises(GenerationFailed) as failed:
        await generator(host).generate("en")
    assert failed.value.unavailable == "HTTP 503" and failed.value.attempts == []
    assert str(failed.value) == "the model could not be reached (HTTP 503)"


def test_a_generated_puzzle_keeps_its_model_through_a_pack() -> None:
    pack = "puzzles:\n- {id: made-1, language: en, title: T, story: A story., answer: The answer is a ladder.,"
    [puzzle] = parse_pack(pack + " generated_by: writer-1}\n", "pack.yaml")
    assert puzzle.generated_by == "writer-1"
