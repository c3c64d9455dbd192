"""Overload: past `game.max_questions_in_flight` a question is refused at the door with "busy",
changing nothing, while every admitted question is answered and stored."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from bot.game.session import Overloaded, Player
from bot.texts import text
from tests.bot_fixtures import Table
from tests.fakes.upstream import FakeUpstream, Reply

IN_FLIGHT = 4
CHANNELS = 6
PER_CHANNEL = 2


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"game": {"max_questions_in_flight": IN_FLIGHT, "question_cooldown": 5}}


async def logged_questions(redis_url: str, channel_id: int) -> list[str]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        return [json.loads(raw)["q"] for raw in await client.lrange(f"soup:{{ch{channel_id}}}:log", 0, -1)]
    finally:
        await client.aclose()


@pytest.mark.simcord(settle_timeout=60)
async def test_a_burst_past_the_limit_is_refused_and_every_answer_is_stored(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    env = table.env
    guild = table.channel.guild
    channels = [guild.create_text_channel(f"table-{n}") for n in range(CHANNELS)]
    for channel in channels:
        await table.alice.slash(channel, "play")
    players = [guild.add_member(env.create_user(f"player-{n}")) for n in range(PER_CHANNEL)]
    fake_upstream.responder = lambda body: Reply.text(
        f"Yes. ({body['messages'][-1]['content'].splitlines()[0]})", first_delay=0.2
    )
    for player in players:  # every question is delivered before the bot runs: one burst
        for channel in channels:
            env.backend.create_message(channel.id, player.id, f"c{channel.id} from {player.id}?")
    await env.settle()

    busy = text("en", "host_busy")
    answered = refused = 0
    for channel in channels:
        history = channel.history()
        questions = {m.id: m.content for m in history if m.author.id in {p.id for p in players}}
        replies = {m.reference.message_id: m.content for m in history if m.reference is not None}
        stored = await logged_questions(redis_url, channel.id)
        assert set(replies) == set(questions)  # every question got exactly one reply
        for message_id, question in questions.items():
            if replies[message_id] == busy:
                refused += 1
                assert question not in stored  # refused: nothing changed
            else:
                answered += 1
                assert replies[message_id] == f"✅ Yes. ({question})"
                assert question in stored  # answered: stored
    assert answered == IN_FLIGHT and refused == CHANNELS * PER_CHANNEL - IN_FLIGHT
    assert len(fake_upstream.requests) == answered  # the model never saw a refused question
    assert env.bot.games.admission.in_flight == 0


async def test_a_refused_player_starts_no_cooldown_and_is_let_in_when_there_is_room(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    games = table.env.bot.games
    await games.start(table.channel.id, Player(1, "a"))
    games.admission.in_flight = IN_FLIGHT  # as if four questions were being answered elsewhere
    with pytest.raises(Overloaded) as refusal:
        await anext(games.ask(table.channel.id, Player(table.bob.id, "bob"), "too early?"))
    assert refusal.value.language == "en"  # known from the game this process started: no Redis read
    games.admission.in_flight = 0
    fake_upstream.queue(Reply.text("No."))
    await table.bob.send(table.channel, "now?")  # not "slow down": the refusal started no cooldown
    assert await logged_questions(redis_url, table.channel.id) == ["now?"]
