"""Two bot instances on one Redis share games without conflict.

Each instance runs the real bot under its own SimCord world, on its own thread and event loop,
as two processes would. The worlds are built the same way, so the channel ids match: both
instances see "the same" channel, as two shards or a failover pair would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import redis.asyncio as aioredis
import simcord

from bot.app import create_bot
from bot.game.store import GameStore
from common.config import Config
from tests.bot.test_game_flow import bot_replies
from tests.bot_fixtures import Table, restart
from tests.fakes.declared_http import declare_model_waits
from tests.fakes.redis_state import exchanges
from tests.fakes.upstream import FakeUpstream, Reply


class OtherProcess:
    """A second bot instance with its own world, loop and thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.bot = create_bot(config)
        self.loop = asyncio.new_event_loop()
        self.ready: Future[None] = Future()
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)
        self.env: simcord.Env | None = None
        self.world: dict[str, Any] = {}

    async def _main(self) -> None:
        self.stopping = asyncio.Event()
        bot = self.bot
        try:
            async with simcord.run(bot) as env:
                self.env = env
                guild = env.create_guild()
                self.world = {
                    "channel": guild.create_text_channel("soup"),
                    "alice": guild.add_member(env.create_user("alice")),
                    "bob": guild.add_member(env.create_user("bob")),
                }
                self.ready.set_result(None)
                await self.stopping.wait()
        except BaseException as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            raise
        finally:
            await bot.close()

    async def run(self, action: Callable[..., Awaitable[Any]]) -> Any:
        """Run `action(env, world)` on the other instance's loop and wait for it here."""
        assert self.env is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(action(self.env, self.world), self.loop))

    def start(self) -> None:
        self.thread.start()
        self.ready.result(30)

    def stop(self) -> None:
        assert self.stopping is not None
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(30)
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


async def test_two_instances_share_one_game(
    table: Table, other_process: OtherProcess, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    assert other_process.world["channel"].id == table.channel.id  # the same channel, seen by both

    story = (await table.alice.slash(table.channel, "play")).response.embeds[0].description

    async def play_there(env: simcord.Env, world: dict) -> Any:
        result = await world["bob"].slash(world["channel"], "play")
        return result.ephemeral, result.response.embeds[0].description

    ephemeral, content = await other_process.run(play_there)
    assert ephemeral and content == story  # the other instance points to the running game

    fake_upstream.responder = lambda body: Reply.text(f"No. ({body['messages'][-1]['content'].split(chr(10))[0]})")

    async def ask_there(question: str) -> Callable[..., Awaitable[Any]]:
        async def action(env: simcord.Env, world: dict) -> Any:
            await world["bob"].send(world["channel"], question)
            bot_id = env.bot.user.id
            return [m.content for m in world["channel"].history() if m.author.id == bot_id and not m.embeds][-1]

        return action

    await table.alice.send(table.channel, "Asked here first?")
    reply_there = await other_process.run(await ask_there("Asked there second?"))
    await table.alice.send(table.channel, "Asked here third?")
    assert reply_there == "❌ No. (Asked there second?)"

    # The third question's prompt carried both earlier exchanges, whichever instance stored them.
    prompt = [m["content"] for m in fake_upstream.requests[-1]["messages"]]
    assert prompt[1:5] == [
        "Asked here first?",
        "❌ No. (Asked here first?)"[2:],
        "Asked there second?",
        "No. (Asked there second?)",
    ]
    entries = [entry["q"] for entry in await exchanges(redis_url)]
    assert entries == ["Asked here first?", "Asked there second?", "Asked here third?"]


async def test_simultaneous_questions_from_both_instances_are_all_stored_whole(
    table: Table, other_process: OtherProcess, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await table.alice.slash(table.channel, "play")
    fake_upstream.responder = lambda body: Reply.text(
        f"Yes. ({body['messages'][-1]['content'].split(chr(10))[0]})", size=3, chunk_delay=0.01
    )

    async def burst_there(env: simcord.Env, world: dict) -> None:
        for index in range(5):
            env.backend.create_message(world["channel"].id, world["bob"].id, f"there {index}?")
        await env.settle(timeout=60)

    for index in range(5):
        table.env.backend.create_message(table.channel.id, table.alice.id, f"here {index}?")
    await asyncio.gather(table.env.settle(timeout=60), other_process.run(burst_there))

    entries = await exchanges(redis_url)
    assert sorted(entry["q"] for entry in entries) == sorted(
        [f"here {i}?" for i in range(5)] + [f"there {i}?" for i in range(5)]
    )
    assert all(entry["r"] == f"Yes. ({entry['q']})" for entry in entries)  # no reply crossed into another
    here = [entry["q"] for entry in entries if entry["q"].startswith("here")]
    assert here == [f"here {i}?" for i in range(5)]  # each instance keeps its arrival order


async def test_a_reply_streaming_in_one_process_keeps_its_marker_when_the_other_answers(
    table: Table, other_process: OtherProcess, fake_upstream: FakeUpstream, bot_settings: Config
) -> None:
    await declare_model_waits(table.env, timeout=60)
    await table.alice.slash(table.channel, "play")
    gate = threading.Event()
    fake_upstream.queue(Reply.text("Yes, and then he went on to", size=6, gate=gate), Reply.text("No."))
    await table.alice.send(table.channel, "Did he leave?")  # here: the reply stops mid-stream
    streaming = bot_replies(table)[-1]
    assert streaming.content.endswith("⏳")

    async def ask_there(env: simcord.Env, world: dict) -> None:
        await world["bob"].send(world["channel"], "Was it night?")  # there: answered and stored

    await other_process.run(ask_there)
    fresh = await restart(table.env, bot_settings)  # this process dies mid-stream
    gate.set()
    marked = next(m for m in bot_replies(table) if m.id == streaming.id)
    assert "⏳" not in marked.content and "the bot restarted mid-reply" in marked.content
    await fresh.close()


async def test_two_starting_processes_take_an_abandoned_reply_once(table: Table, redis_url: str) -> None:
    await table.alice.slash(table.channel, "play")
    store = table.env.bot.games.store
    game = await store.load(table.channel.id)
    assert game is not None
    await store.mark_streaming(game, 0, 4242)  # a reply its process abandoned

    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    try:
        starting = [
            GameStore(client, store.prefix, store.ttl, store.transcript_cap, store.recent_cap) for client in clients
        ]
        taken = await asyncio.gather(*(other.take_abandoned([0]) for other in starting))
    finally:
        for client in clients:
            await client.aclose()
    assert sorted(taken, key=len) == [[], [(table.channel.id, 4242, game.language)]]
