"""Fixtures for the real bot under SimCord, on a real redis-server and the fake upstream (a pytest plugin)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
import simcord

from bot.app import TurtleSoupBot, create_bot
from common.config import Config, validate
from tests.fakes.upstream import FakeUpstream


def bot_config(redis_url: str, upstream: FakeUpstream, **sections: dict) -> Config:
    data = {
        "discord": {"token": "unused-under-simcord", "shard_count": 1},
        "redis": {"url": redis_url},
        "model": {
            "base_url": upstream.base_url,
            "api_key": "test",
            "first_token_timeout": 2,
            "request_timeout": 10,
            "max_retries": 0,
        },
        "stream": {"edit_interval": 1.0},
        "game": {"question_cooldown": 0},  # tests of the cooldown turn it on
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return validate(data, "test-config.yaml")


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    """Override in a test module (or with indirect parametrisation) to change config sections."""
    return {}


@pytest.fixture
def bot_settings(redis_url: str, fake_upstream: FakeUpstream, config_overrides: dict) -> Config:
    return bot_config(redis_url, fake_upstream, **config_overrides)


@pytest.fixture
async def simcord_bot(bot_settings: Config) -> AsyncIterator[TurtleSoupBot]:
    bot = create_bot(bot_settings)
    yield bot
    # SimCord detaches the bot without calling close(); a real shutdown would.
    await bot.close()


async def restart(env: simcord.Env, config: Config) -> TurtleSoupBot:
    """What a process restart does: a new bot on the same config, the old one closed."""
    old = env.bot
    fresh = create_bot(config)
    await env.restart_bot(fresh)
    await old.close()
    return fresh


@dataclass
class Table:
    """A guild with a game channel and two players."""

    env: simcord.Env
    channel: simcord.ChannelHandle
    alice: simcord.MemberActor
    bob: simcord.MemberActor


@pytest.fixture
def table(simcord_env: simcord.Env) -> Table:
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("soup")
    alice = guild.add_member(simcord_env.create_user("alice"))
    bob = guild.add_member(simcord_env.create_user("bob"))
    return Table(simcord_env, channel, alice, bob)


@pytest.fixture
def admin(table: Table) -> simcord.MemberActor:
    """A member of the table's guild who may manage it (Manage Server), as a server's admins do."""
    guild = table.channel.guild
    managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(table.env.create_user("manager"), roles=[managers])
