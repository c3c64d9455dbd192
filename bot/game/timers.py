"""Time limits that end a game even when nobody asks anything: one timer per timed game in this process.

A timer is armed when this process starts a game, sees one (a question, a hint), or finds one in Redis
at start-up, so a restart keeps the clocks. Ending goes through the store's conditional stop, so when two
processes both keep a game's clock, one ends it and only that one announces. A question asked after the
deadline ends the game too (`GameService` checks the limits on every question), whoever's timer is late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import redis.exceptions

from bot.game.limits import TIME_LIMIT, deadline_of
from bot.game.session import GameService
from bot.game.store import Game

log = logging.getLogger(__name__)

RETRY_AFTER = 30.0  # seconds between tries to end a game while Redis is unreachable

Ended = Callable[[Game], Awaitable[None]]


class GameTimers:
    def __init__(self, games: GameService, on_ended: Ended) -> None:
        self.games = games
        self.on_ended = on_ended
        # channel -> (game id, when it started, its timer)
        self._timers: dict[int, tuple[str, float, asyncio.Task[None]]] = {}

    def __len__(self) -> int:
        return len(self._timers)

    def keep(self, game: Game | None) -> None:
        """Keep `game`'s clock, if it is an active timed game whose clock is not kept here yet."""
        if game is None or not game.active:
            return
        deadline = deadline_of(game.started_at, game.time_limit)
        if deadline is not None:
            self.keep_until(game.channel_id, game.game_id, game.started_at, deadline)

    def keep_until(self, channel_id: int, game_id: str, started_at: float, deadline: float) -> None:
        held = self._timers.get(channel_id)
        if held is not None:
            if held[0] == game_id or held[1] > started_at:
                return  # kept already, or a stale sight of a game that has since been replaced
            held[2].cancel()  # a game that was replaced
        task = asyncio.create_task(self._run(channel_id, game_id, deadline), name=f"time-limit-{channel_id}")
        self._timers[channel_id] = (game_id, started_at, task)

    def drop(self, channel_id: int, game_id: str) -> None:
        """Stop keeping the clock of a game that ended otherwise."""
        held = self._timers.get(channel_id)
        if held is not None and held[0] == game_id:
            held[2].cancel()
            del self._timers[channel_id]

    async def keep_stored(self) -> None:
        """Keep the clocks of the timed games Redis holds (at start-up: a restart must not stop them)."""
        try:
            timed = await self.games.store.timed_games()
        except redis.exceptions.RedisError as error:
            log.warning("could not look for timed games; their next question ends them when due: %s", error)
            return
        for channel_id, game_id, started_at, limit in timed:
            self.keep_until(channel_id, game_id, started_at, started_at + limit)
        if timed:
            log.info("keeping the clocks of %d timed game(s)", len(timed))

    def close(self) -> None:
        for _, _, task in self._timers.values():
            task.cancel()
        self._timers.clear()

    async def _run(self, channel_id: int, game_id: str, deadline: float) -> None:
        try:
            await asyncio.sleep(max(deadline - time.time(), 0.0))
            while True:
                try:
                    ended = await self.games.end_by_limit(channel_id, game_id, TIME_LIMIT)
                    break
                except redis.exceptions.RedisError as error:
                    log.warning("could not end the timed-out game in %s, retrying: %s", channel_id, error)
                    await asyncio.sleep(RETRY_AFTER)
            if ended is not None:
                await self.on_ended(ended)
        except Exception:
            log.exception("the time limit of the game in channel %s failed", channel_id)
        finally:
            if channel_id in self._timers and self._timers[channel_id][0] == game_id:
                del self._timers[channel_id]
