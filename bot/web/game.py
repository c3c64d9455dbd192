"""The browser's side of a game: what a session sees, computed from the engine's state.

No Gradio here: `WebGames` turns GameService calls into `View`s (story, transcript, notice), and
page.py only draws them. The answer, the unfound key facts and the end-of-game summary go into a
view only once the game has ended; while it runs, only the progress bar and the facts found so far.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import redis.exceptions

from bot.endings import limit_notice, summary_lines
from bot.game.puzzles import PuzzleError
from bot.game.session import (
    ChannelBusy,
    CoolingDown,
    GameError,
    GameService,
    HostReply,
    LimitReached,
    NoActiveGame,
    NoHint,
    NotAllowed,
    Outcome,
    Overloaded,
    Player,
    QuestionRejected,
)
from bot.game.store import Game
from bot.game.verdict import Verdict
from bot.progress import progress_text
from bot.texts import format_reply, no_hint_key
from bot.web.limits import AddressLimits, RateLimiter
from bot.web.sessions import channel_for, new_token, valid_token
from bot.web.texts import web_text

log = logging.getLogger(__name__)

# Every browser session is one player in a channel of its own, so it may always end its game.
WEB_PLAYER = Player(0, "web")
Message = dict[str, str]


@dataclass
class View:
    """Everything the page shows for one session; safe to send to the browser."""

    token: str
    language: str
    story: str = ""
    chat: list[Message] = field(default_factory=list)
    notice: str = ""
    progress: str = ""  # the key-fact bar and the facts found so far, while the game runs
    summary: str = ""  # the end-of-game summary, once it has ended
    playing: bool = False
    accepted: bool = False  # the question was taken (so the page clears its box)


class WebGames:
    """`address` (the client's, see clients.py) is counted against `addresses` when those are given."""

    def __init__(self, games: GameService, limiter: RateLimiter, addresses: AddressLimits | None = None) -> None:
        self.games = games
        self.limiter = limiter
        self.addresses = addresses

    @property
    def default_language(self) -> str:
        return self.games.config.default_language

    async def open(self, token: str | None, language: str | None = None, address: str = "") -> View:
        """The session's game as it stands (a reload), or a new one for a new session."""
        token = token if valid_token(token) else new_token()
        language = language or self.default_language
        try:
            game = await self._load(token)
            if game is None:
                refused = self._new_game_refused(address, language)
                if refused:
                    return View(token, language, notice=refused)
                game = await self.games.start(channel_for(token), WEB_PLAYER, language)
        except (GameError, PuzzleError, redis.exceptions.RedisError) as error:
            return View(token, language, notice=self.refusal(error, language))
        return await self.full_view(token, game)

    async def new_puzzle(self, token: str | None, language: str, address: str = "") -> View:
        """Reveal the current game (if still running) and start another in `language`."""
        token = token if valid_token(token) else new_token()
        refused = await self._limited(token, language, address)
        if refused:
            return refused
        too_many = self._new_game_refused(address, language)
        if too_many:
            return await self._with_notice(token, language, too_many)
        try:
            revealed, game = await self.games.new_game(channel_for(token), WEB_PLAYER, language)
        except (GameError, PuzzleError, redis.exceptions.RedisError) as error:
            return await self._with_notice(token, language, self.refusal(error, language))
        view = self.view(token, game)
        if revealed is not None:
            view.notice = f"{web_text(revealed.language, 'reveal_title', title=revealed.title)}\n\n{revealed.answer}"
            # Its found facts were read before it was replaced, as the cog's /newgame does.
            view.summary = await self.summary(revealed, revealed.found)
        return view

    async def stop(self, token: str | None, language: str, address: str = "") -> View:
        token = token if valid_token(token) else new_token()
        refused = await self._limited(token, language, address)
        if refused:
            return refused
        try:
            stopped = await self.games.stop(channel_for(token), WEB_PLAYER)
            game = await self._load(token) or stopped  # with its transcript
        except (GameError, redis.exceptions.RedisError) as error:
            return await self._with_notice(token, language, self.refusal(error, language))
        return await self.full_view(token, game)

    async def hint(self, token: str | None, language: str, address: str = "") -> View:
        """The game's next hint through the engine's /hint path (counted, capped), or why there is none."""
        token = token if valid_token(token) else new_token()
        refused = await self._limited(token, language, address)
        if refused:
            return refused
        try:
            hint = await self.games.hint(channel_for(token), WEB_PLAYER)
        except LimitReached as ended:  # its time ran out: the game ends now, with its answer and summary
            return await self._with_notice(token, language, limit_notice(ended.game))
        except NoHint as cause:
            notice = web_text(language, no_hint_key(cause.reason), allowed=cause.game.max_hints)
            return await self._with_notice(token, language, notice)
        except (GameError, redis.exceptions.RedisError) as error:
            return await self._with_notice(token, language, self.refusal(error, language))
        game = hint.game
        view = await self.full_view(token, game)
        you = web_text(game.language, "you")
        view.notice = web_text(
            game.language, "hint", number=hint.number, allowed=game.max_hints, who=you, hint=hint.text
        )
        return view

    async def ask(self, token: str | None, question: str, language: str, address: str = "") -> AsyncIterator[View]:
        """The transcript with the host's reply growing at its end, one view per update."""
        token = token if valid_token(token) else new_token()
        refused = await self._limited(token, language, address)
        if refused:
            yield refused
            return
        try:
            async with aclosing(self.games.ask(channel_for(token), WEB_PLAYER, question)) as replies:
                async for reply in replies:
                    yield await self._reply_view(token, question, reply, language)
        except (GameError, redis.exceptions.RedisError) as error:
            yield await self._with_notice(token, language, self.refusal(error, language))

    # -- views -------------------------------------------------------------------------

    def view(self, token: str, game: Game) -> View:
        return View(
            token,
            game.language,
            story=f"## {game.title}\n\n{game.story}",
            chat=transcript(game),
            notice=ending(game),
            progress=progress_text(game) if game.active and game.key_facts else "",
            playing=game.active,
        )

    async def full_view(self, token: str, game: Game) -> View:
        """`view`, with the summary of a game that has ended."""
        view = self.view(token, game)
        if not game.active:
            view.summary = await self.summary(game)
        return view

    async def summary(self, game: Game, found: Mapping[int, Any] | None = None) -> str:
        """The engine's end-of-game summary as markdown; the one player of a session is "you"."""
        summary = await self.games.summarise(game, found)
        you = web_text(game.language, "you")
        lines = summary_lines(summary, game.language, name=lambda _player: you)
        return "\n".join([f"### {web_text(game.language, 'summary_title')}", *lines])

    async def _reply_view(self, token: str, question: str, reply: HostReply, language: str) -> View:
        game = reply.game
        if game is None:  # only a queued question that lost its game; nothing else to show
            return View(token, language, notice=format_reply(reply, language))
        view = await self.full_view(token, game) if reply.done else self.view(token, game)
        view.accepted = True
        if reply.outcome not in (Outcome.ANSWERED, Outcome.SOLVED):
            # Stored replies are already in the transcript; the rest are shown, not kept.
            shown = format_reply(reply, game.language)
            view.chat += [{"role": "user", "content": question}, {"role": "assistant", "content": shown}]
        return view

    async def _load(self, token: str) -> Game | None:
        """The session's game with its transcript (GameService.current leaves that out)."""
        return await self.games.store.load(channel_for(token))

    async def _with_notice(self, token: str, language: str, notice: str) -> View:
        """The game as it stands, with a refusal under it."""
        try:
            game = await self._load(token)
        except redis.exceptions.RedisError:
            game = None
        view = await self.full_view(token, game) if game is not None else View(token, language)
        view.notice = "\n\n".join(part for part in (view.notice, notice) if part)
        return view

    async def _limited(self, token: str, language: str, address: str) -> View | None:
        """None when the session and its address may act now; else its game as it stands, with when to try again."""
        wait = self.limiter.allow(channel_for(token))
        if not wait and self.addresses is not None:
            wait = self.addresses.actions.allow(address)
        if not wait:
            return None
        return await self._with_notice(token, language, web_text(language, "rate_limited", seconds=math.ceil(wait)))

    def _new_game_refused(self, address: str, language: str) -> str:
        """Why this address may not start a game now ("" when it may; the game is then counted)."""
        wait = self.addresses.new_games.allow(address) if self.addresses is not None else 0.0
        return web_text(language, "too_many_games", minutes=math.ceil(wait / 60)) if wait else ""

    def refusal(self, cause: Exception, language: str) -> str:
        """A refusal as one friendly line in the session's language."""
        if isinstance(cause, QuestionRejected):
            return web_text(language, cause.reason, limit=self.games.config.max_question_length)
        if isinstance(cause, CoolingDown):
            return web_text(language, "cooldown", seconds=max(1, round(cause.seconds)))
        if isinstance(cause, NoActiveGame):
            return web_text(language, "ended")
        if isinstance(cause, PuzzleError):
            return web_text(language, "no_puzzles")
        if isinstance(cause, redis.exceptions.RedisError):
            log.warning("redis unavailable for a browser session: %s", cause)
            return web_text(language, "redis_down")
        simple = {ChannelBusy: "busy", NotAllowed: "not_allowed", Overloaded: "host_busy"}
        return web_text(language, next((key for kind, key in simple.items() if isinstance(cause, kind)), "error"))


def transcript(game: Game) -> list[Message]:
    chat: list[Message] = []
    for exchange in game.transcript:
        stored = HostReply(exchange.reply, Verdict(exchange.verdict), Outcome.ANSWERED, game)
        chat += [
            {"role": "user", "content": exchange.question},
            {"role": "assistant", "content": format_reply(stored, game.language)},
        ]
    return chat


def ending(game: Game) -> str:
    """The answer, once and only once the game is over."""
    if game.active:
        return ""
    if game.status == "solved":
        return web_text(game.language, "solved", questions=game.questions, answer=game.answer)
    return f"{web_text(game.language, 'reveal_title', title=game.title)}\n\n{game.answer}"
