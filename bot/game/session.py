"""The game engine: starting, asking, solving and ending games. No Discord here.

The Discord cog and terminal play both drive this class; they differ only in how they show
a `HostReply` as it streams.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import redis.exceptions

from bot.game.facts import facts_line, parse_facts_line, strip_facts_line
from bot.game.hints import Hint, HintCounter, HintSource, clean_hint, fact_to_hint, hint_messages, stored_hint
from bot.game.host import HostBusy, HostInterrupted, HostNoVerdict, HostUnavailable, ModelHost, reply_text
from bot.game.leak import LeakGuard
from bot.game.limits import QUESTION_LIMIT, TIME_LIMIT, limits_for, out_of_questions, out_of_time
from bot.game.locks import AtCapacity, ChannelLocks, InFlightLimit, QueueFull
from bot.game.meaning import MeaningGuard, NotEncoded, PuzzleMeaning, encoded_only, puzzle_meaning
from bot.game.prompt_variants import builder_for, variant_of, verdict_form
from bot.game.prompts import Turn
from bot.game.puzzles import Puzzle, PuzzleBank
from bot.game.solving import Coverage, FactsJudgement, credited_facts, judge_coverage, judge_solve
from bot.game.sse import FinalText
from bot.game.store import ACTIVE, Exchange, Game, GameStore, OutOfQuestions
from bot.game.summary import Summary, build_summary, found_now
from bot.game.thinking import Thinking
from bot.game.verdict import Verdict, label, parse_verdict
from common.config import GameConfig

log = logging.getLogger(__name__)

GUARD_CACHE_SIZE = 4096
LANGUAGES_KEPT = 100_000  # channels whose game language an overload refusal can name
COOLDOWN_SWEEP_SIZE = 10_000
# Invisible characters that make a message look non-empty: zero-width spaces, joiners, marks, BOM.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")


# (guild id, the language's puzzles) -> picking weight by puzzle id, or None to pick evenly.
PuzzleWeights = Callable[[int | None, Sequence[Puzzle]], Awaitable[Mapping[str, float] | None]]


def _unsolved(verdict: Verdict) -> Verdict:
    """How a verdict is shown when the question does not solve: a "Correct" that is not believed is unclear."""
    return Verdict.UNCLEAR if verdict is Verdict.CORRECT else verdict


def _as_host_wrote(exchange: Exchange, language: str) -> str:
    """A past reply as the host gave it, facts line included, so the model keeps writing one."""
    if not exchange.facts:
        return exchange.reply
    return f"{exchange.reply}\n{facts_line(exchange.facts, language)}"


def limit_reached(game: Game) -> str:
    """The limit an active game has reached ("" for none)."""
    if out_of_time(game.started_at, game.time_limit):
        return TIME_LIMIT
    if out_of_questions(game.questions, game.max_questions):
        return QUESTION_LIMIT
    return ""


# A lone UTF-16 surrogate (a browser's JSON can carry one) cannot be encoded to store or send.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# The lookbehind anchors the match at a word's start, so a long run of letters is not rescanned from
# every position (quadratic) before "$" rejects it.
_TRAILING_WORD = re.compile(r"(?<![^\W_\u3400-\u9fff])[^\W_\u3400-\u9fff]+$")


def meaning_guard_for(meaning: PuzzleMeaning, found: Collection[int], asked: list[str]) -> MeaningGuard:
    """The leak guard by meaning: the answer and the key facts not in ``found``, against what the players wrote
    (``asked``). Encodes: call it within judged_by_meaning (off the event loop when the model is needed)."""
    unfound = [index for index in range(len(meaning.facts)) if index not in found]
    return MeaningGuard(meaning, unfound, asked)


T = TypeVar("T")
ShownIn = Callable[[], tuple[int, int] | None]  # (shard, message id) of a reply on screen; None: not yet


async def judged_by_meaning(judgement: Callable[[], T]) -> T:
    """A judgement by meaning: here on the event loop when every text it reads was encoded before (microseconds),
    else in one worker-thread hop (encoding takes milliseconds)."""
    try:
        with encoded_only():
            return judgement()
    except NotEncoded:
        return await asyncio.to_thread(judgement)


def _without_partial_word(text: str) -> str:
    """Streamed text less its last word (the stream ended in the middle of letters or digits)."""
    return _TRAILING_WORD.sub("", text).rstrip()


def clean_question(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", _INVISIBLE.sub("", text)).strip()


class GameError(Exception):
    """A refusal the player should see, e.g. as an ephemeral reply."""


class GameAlreadyRunning(GameError):
    def __init__(self, game: Game) -> None:
        super().__init__("a game is already running in this channel")
        self.game = game


class NoActiveGame(GameError):
    def __init__(self) -> None:
        super().__init__("no game is running in this channel")


class QuestionRejected(GameError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # "empty" or "too_long"


class ChannelBusy(GameError):
    pass


class Overloaded(GameError):
    """The process is at its in-flight limit; `language` is the channel's game's, when known."""

    def __init__(self, reason: str, language: str | None) -> None:
        super().__init__(reason)
        self.language = language


class CoolingDown(GameError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"wait {seconds:.0f} more second(s) before asking again")
        self.seconds = seconds


class NotAllowed(GameError):
    """Only the game's starter or a moderator may end it (unless configured otherwise)."""

    def __init__(self, game: Game) -> None:
        super().__init__("only the player who started the game or a moderator may end it")
        self.game = game


class NoHint(GameError):
    """No hint can be given: the game's hints are used up ("used_up"), none is left to give ("none"), or
    the host could not be reached to write one ("unreachable")."""

    def __init__(self, reason: str, game: Game) -> None:
        super().__init__("no hints left" if reason == "used_up" else "no hint is available")
        self.reason = reason
        self.game = game


class LimitReached(GameError):
    """The game reached a limit before the command took effect, and this call ended it (to be revealed)."""

    def __init__(self, game: Game) -> None:
        super().__init__(f"the game ended: {game.ended_reason or 'a limit'} reached")
        self.game = game


class GameChanged(GameError):
    """The game a command was meant for was replaced before the command took effect."""

    def __init__(self, game: Game) -> None:
        super().__init__("the game changed before the command took effect")
        self.game = game


class Outcome(enum.StrEnum):
    STREAMING = "streaming"
    QUEUED = "queued"
    ANSWERED = "answered"  # stored in the transcript
    SOLVED = "solved"  # stored, and the game is now solved
    UNCLEAR = "unclear"  # shown, but no verdict: nothing changes
    UNAVAILABLE = "unavailable"  # the model could not be reached; nothing changes
    BUSY = "busy"  # the model endpoint is overloaded (429): nothing changes, no cooldown, ask again soon
    INTERRUPTED = "interrupted"  # the reply broke off; nothing changes
    NO_VERDICT = "no_verdict"  # the model thought, gave no answer (cut off, or thought too long); nothing changes
    GAME_OVER = "game_over"  # the game ended while the question waited or streamed
    GAME_CHANGED = "game_changed"  # another game started while the question waited: not asked, no cooldown
    NOT_SAVED = "not_saved"  # answered, but the store failed: not counted


# The host could not answer: the asker's cooldown is given back.
UNANSWERED = (Outcome.BUSY, Outcome.UNAVAILABLE, Outcome.INTERRUPTED, Outcome.NO_VERDICT)


@dataclass(frozen=True, slots=True)
class Player:
    id: int
    name: str
    moderator: bool = False  # e.g. has Manage Messages in the channel


@dataclass(frozen=True, slots=True)
class HostReply:
    """The reply as it stands: `text` is always safe to show."""

    text: str
    verdict: Verdict
    outcome: Outcome
    game: Game | None = None
    leaked: bool = False
    new_facts: tuple[int, ...] = ()  # key facts (0-based) this question found
    partial: bool = False  # the host said Correct, but key facts remain unfound: recorded as a Yes
    ended: str = ""  # a limit this reply's question reached, ending the game ("question_limit", "time_limit")
    thinking: float | None = None  # the model is thinking, for this many seconds so far (nothing shown yet)

    @property
    def done(self) -> bool:
        return self.outcome not in (Outcome.STREAMING, Outcome.QUEUED)

    @property
    def placeholder(self) -> bool:
        """Nothing to show from the model yet: "queued", "thinking", or thinking for a while."""
        return self.outcome is Outcome.QUEUED or (self.outcome is Outcome.STREAMING and not self.text)


@dataclass(frozen=True, slots=True)
class _Judge:
    """How the reply to one message is judged: its guard, the key facts found before, what players wrote."""

    guard: LeakGuard
    meaning: MeaningGuard  # the leak guard by meaning, for this reply
    question: str
    total: int
    found: frozenset[int]
    known: str
    coverage: Coverage  # what the message is about (bot.game.solving.judge_coverage)

    def facts(self, raw: str, final: bool) -> FactsJudgement:
        named = parse_facts_line(raw, self.total, final)
        return FactsJudgement(self.total, self.found, named, final, self.coverage)

    def solves(self, verdict: Verdict, facts: FactsJudgement) -> bool:
        return judge_solve(self.guard, self.question, verdict, facts, self.coverage.key)

    def holds(self, verdict: Verdict, solves: bool) -> bool:
        """A Correct for a message about the answer that does not solve (yet): its text is held back."""
        about = self.coverage.key or bool(self.coverage.facts)
        return not solves and verdict is Verdict.CORRECT and self.total > 0 and about

    async def leaks(self, visible: str, final: bool) -> bool:
        """Whether the reply gives the answer or an unfound fact away, in words or in meaning."""
        if self.guard.leaks(visible, self.known):
            return True
        return await judged_by_meaning(lambda: self.meaning.leaks(visible, final))


class GameService:
    def __init__(
        self,
        store: GameStore,
        bank: PuzzleBank,
        host: ModelHost,
        config: GameConfig,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.bank = bank
        self.host = host
        self.config = config
        self.rng = rng or random.Random()
        self.locks = ChannelLocks(max_waiting=config.max_queued_questions)
        self.admission = InFlightLimit(config.max_questions_in_flight)
        self._languages: OrderedDict[int, str] = OrderedDict()  # channel -> language of a game seen there
        self._guards: OrderedDict[str, LeakGuard] = OrderedDict()
        self._last_question: dict[tuple[int, int], float] = {}
        # A server's own puzzles, played alongside the bank (set by the puzzles cog).
        self.guild_puzzles: Callable[[int], Awaitable[Sequence[Puzzle]]] | None = None
        self.hint_counter = HintCounter(store)
        # Picking weights from players' ratings (set by the ratings cog): puzzle id -> weight, None = even.
        self.puzzle_weights: PuzzleWeights | None = None

    # -- starting and ending ---------------------------------------------------------

    async def start(
        self,
        channel_id: int,
        player: Player,
        language: str | None = None,
        difficulty: str | None = None,
        *,
        guild_id: int | None = None,
    ) -> Game:
        """Start a game (of `difficulty`, when given); racing calls create exactly one and the rest raise
        GameAlreadyRunning."""
        current, recent = await self.store.load_with_recent(channel_id)
        if current is not None and current.active:
            raise GameAlreadyRunning(current)
        bank = await self.bank_for(guild_id)
        puzzle = await self._pick(bank, guild_id, language or self.config.default_language, recent, difficulty)
        result = await self.store.start(channel_id, self._fields(puzzle, player, guild_id))
        if not result.created:
            raise GameAlreadyRunning(result.game)
        self._guard(result.game)  # once per game, here rather than on the first question
        return result.game

    async def new_game(
        self,
        channel_id: int,
        player: Player,
        language: str | None = None,
        difficulty: str | None = None,
        *,
        guild_id: int | None = None,
    ) -> tuple[Game | None, Game]:
        """End the current game (returned, to reveal it, with its found facts) and start another at once.

        Racing calls replace the game only once: the losers get the winner's new game and None.
        """
        current, recent = await self.store.load_with_recent(channel_id)
        if current is not None and current.active:
            self._check_may_end(current, player)
            # Read now, for its summary: the new game starts with none found.
            current.found = await found_now(self.store, channel_id)
        language = language or (current.language if current else self.config.default_language)
        puzzle = await self._pick(await self.bank_for(guild_id), guild_id, language, recent, difficulty)
        result = await self.store.start(
            channel_id, self._fields(puzzle, player, guild_id), replacing=current.game_id if current else ""
        )
        if not result.created:
            return None, result.game
        self._guard(result.game)
        # A game solved (or stopped) since it was read was announced by whoever ended it, and is not
        # "ended before it was solved"; one this call ended, or that expired meanwhile, is revealed here.
        ended_here = current is not None and current.active and result.replaced_status in (ACTIVE, "")
        revealed = replace(current, status="stopped", ended_at=time.time()) if ended_here else None
        return revealed, result.game

    async def stop(self, channel_id: int, player: Player) -> Game:
        current = await self.store.load(channel_id, with_transcript=False)
        if current is None or not current.active:
            raise NoActiveGame()
        self._check_may_end(current, player)
        # Only the game the player saw (and was allowed to end): another may have started since.
        changed, game = await self.store.stop(channel_id, player.id, current.game_id)
        if changed and game is not None:
            return game
        if game is not None and game.active and game.game_id != current.game_id:
            raise GameChanged(game)
        raise NoActiveGame()

    def _check_may_end(self, game: Game, player: Player) -> None:
        if self.config.end_game_by == "anyone" or player.moderator or player.id == game.started_by:
            return
        raise NotAllowed(game)

    async def current(self, channel_id: int) -> Game | None:
        return await self.store.load(channel_id, with_transcript=False)

    async def bank_for(self, guild_id: int | None) -> PuzzleBank:
        """The bank /play picks from in a server: the bank with the server's own puzzles added (one replaces a bank
        puzzle with its id)."""
        if guild_id is None or self.guild_puzzles is None:
            return self.bank
        own = await self.guild_puzzles(guild_id)
        return PuzzleBank([*self.bank.by_id.values(), *own]) if own else self.bank

    async def _pick(
        self, bank: PuzzleBank, guild_id: int | None, language: str, recent: Sequence[str], difficulty: str | None
    ) -> Puzzle:
        """The next puzzle, weighted by its ratings when players have rated any."""
        weights = None
        if self.puzzle_weights is not None:
            weights = await self.puzzle_weights(guild_id, bank.by_language.get(language) or [])
        return bank.pick(language, recent[: self.config.recent_puzzles], self.rng, difficulty, weights)

    async def progress(self, channel_id: int) -> Game:
        """The channel's game (active or just ended) with its found key facts and the transcript (which
        question found each); NoActiveGame when none."""
        game = await self.store.load(channel_id)
        if game is None:
            raise NoActiveGame()
        return game

    def _fields(self, puzzle: Puzzle, player: Player, guild_id: int | None = None) -> dict[str, str]:
        limits = limits_for(self.config, puzzle.difficulty)
        fields = {
            **({"guild_id": str(guild_id)} if guild_id is not None else {}),
            "puzzle_id": puzzle.id,
            "language": puzzle.language,
            "title": puzzle.title,
            "story": puzzle.story,
            "answer": puzzle.answer,
            "started_by": str(player.id),
            "difficulty": puzzle.difficulty,
            "key_facts": json.dumps(list(puzzle.key_facts), ensure_ascii=False),
            "hints": json.dumps(list(puzzle.hints), ensure_ascii=False),
            "max_hints": str(limits.max_hints),
            "hints_used": "0",
        }
        # Limits are copied into the game, so every process ends it by the same rule.
        if limits.max_questions is not None:
            fields["max_questions"] = str(limits.max_questions)
        if limits.time_limit is not None:
            fields["time_limit"] = repr(limits.time_limit)
        return fields

    # -- limits, hints and summaries ------------------------------------------------

    async def end_by_limit(self, channel_id: int, game_id: str, reason: str) -> Game | None:
        """End `game_id` because a limit was reached (through the stop path, noting `reason`); the ended
        game when this call ended it, None when it had already ended or been replaced."""
        changed, game = await self.store.stop(channel_id, None, game_id, reason=reason)
        if changed and game is not None:
            log.info("channel %s: game %s ended, %s reached", channel_id, game_id, reason)
            return game
        return None

    async def summarise(self, game: Game, found: Mapping[int, Any] | None = None) -> Summary:
        """The end-of-game summary of `game`; its found facts are read now unless given (a game replaced by
        /newgame has them read before it was replaced)."""
        return build_summary(game, await found_now(self.store, game.channel_id) if found is None else found)

    async def hint(self, channel_id: int, player: Player) -> Hint:
        """The game's next hint: its stored hints in order, then one the host writes towards a key fact
        not yet found (shown only if it gives nothing away). At most the game's `max_hints`; a hint
        that cannot be given is not counted."""
        game = await self.store.load(channel_id)
        if game is None or not game.active:
            raise NoActiveGame()
        if reached := limit_reached(game):
            ended = await self.end_by_limit(channel_id, game.game_id, reached)
            raise LimitReached(ended) if ended is not None else NoActiveGame()
        if game.max_hints is None:
            game.max_hints = self.config.max_hints
        number = await self.hint_counter.take(game, player.id, game.max_hints, time.time())
        if number < 0:
            raise NoActiveGame()
        if number == 0:
            raise NoHint("used_up", game)
        game.hints_used = number
        text = stored_hint(game, number)
        if text is not None:
            return Hint(text, number, HintSource.STORED, game)
        try:
            text = await self._generated_hint(game, number)
        except BaseException:
            await self.hint_counter.give_back(game, player.id)
            raise
        if text is None:
            await self.hint_counter.give_back(game, player.id)
            raise NoHint("none", game)
        return Hint(text, number, HintSource.GENERATED, game)

    async def _generated_hint(self, game: Game, number: int) -> str | None:
        """A hint the host writes towards an unfound key fact; None when there is none to point to or what
        it wrote would give the answer (or that fact) away. NoHint("unreachable") when the host cannot be
        reached."""
        found = await found_now(self.store, game.channel_id)
        fact = fact_to_hint(game, number, list(found))
        if fact is None:
            return None
        try:
            self.admission.enter()
        except AtCapacity as error:
            raise Overloaded(str(error), game.language) from None
        try:
            raw = await reply_text(self.host.stream(hint_messages(game, fact)))  # thinking is never part of a hint
        except (HostUnavailable, HostInterrupted) as error:
            log.warning("no hint written in channel %s: %s", game.channel_id, error)
            raise NoHint("unreachable", game) from None  # not "nothing more can be said": ask again later
        finally:
            self.admission.leave()
        hint = clean_hint(raw)
        known = "\n".join([game.story, *(exchange.question for exchange in game.transcript)])
        fact_guard = LeakGuard(game.story, fact, game.language)
        if not hint or self._guard(game).leaks(hint, known) or fact_guard.leaks(hint, known):
            log.info("channel %s: a written hint was withheld (empty or giving the answer away)", game.channel_id)
            return None
        if await self._hint_leaks_in_meaning(game, hint, found):
            log.info("channel %s: a written hint was withheld (close in meaning to the answer)", game.channel_id)
            return None
        return hint

    async def _hint_leaks_in_meaning(self, game: Game, hint: str, found: Collection[int]) -> bool:
        """A hint close in meaning, in any language, to the answer or a key fact not yet found (``found``: the
        facts found when the hint was chosen)."""
        asked = [exchange.question for exchange in game.transcript]

        def leaks() -> bool:  # one worker-thread hop: encoding takes milliseconds, the event loop none of it
            return meaning_guard_for(puzzle_meaning(game.answer, game.key_facts), found, asked).leaks(hint)

        return await asyncio.to_thread(leaks)

    # -- asking ------------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        cleaned = clean_question(question)
        if not cleaned:
            raise QuestionRejected("empty", "empty question")
        if len(cleaned) > self.config.max_question_length:
            raise QuestionRejected("too_long", f"question longer than {self.config.max_question_length} characters")
        return cleaned

    async def ask(
        self, channel_id: int, player: Player, question: str, shown_in: ShownIn | None = None
    ) -> AsyncIterator[HostReply]:
        """Stream the host's reply to one question, in the channel's arrival order.

        Raises NoActiveGame (before yielding) when the channel has no game, so a caller can
        treat ordinary chat in game-less channels as not-a-question without replying at all.
        Raises Overloaded (before anything else happens, no cooldown started) when the process
        already holds `max_questions_in_flight` questions. The player's cooldown starts when the
        question is accepted and is given back when the question ends without reaching the model,
        or the host could not answer it (busy, unreachable, or its reply broke off).
        `shown_in`: where the reply is on screen, (shard, message id), once it is; a queued question's notice
        is noted for restarts (`note_shown`) with its turn's load, in the same Redis round trip.
        """
        try:
            self.admission.enter()
        except AtCapacity as error:
            raise Overloaded(str(error), self._languages.get(channel_id)) from None
        try:
            async with aclosing(self._ask_admitted(channel_id, player, question, shown_in)) as replies:
                async for reply in replies:
                    yield reply
        finally:
            self.admission.leave()

    async def _ask_admitted(
        self, channel_id: int, player: Player, question: str, shown_in: ShownIn | None
    ) -> AsyncIterator[HostReply]:
        question = self.check_question(question)
        claim = self._claim_cooldown(channel_id, player)
        spent = False
        try:
            async with aclosing(self._ask_in_turn(channel_id, player, question, shown_in)) as replies:
                async for reply in replies:
                    if reply.outcome is Outcome.STREAMING:
                        spent = True  # the model is being asked
                    elif reply.outcome in UNANSWERED:
                        spent = False  # the host could not answer: asking again is not "too soon"
                    yield reply
        finally:
            if not spent:
                self._refund_cooldown(claim)

    async def _ask_in_turn(
        self, channel_id: int, player: Player, question: str, shown_in: ShownIn | None
    ) -> AsyncIterator[HostReply]:
        try:
            holding = self.locks.hold(channel_id)
            waited = await holding.__aenter__()
        except QueueFull as error:
            raise ChannelBusy(str(error)) from None
        try:
            asked_in: Game | None = None
            if waited is not None:
                # Others are ahead. The question belongs to the game the player sees now (not to the
                # one being answered: a /newgame may have come between); say "queued" at once.
                asked_in = await self.store.load(channel_id, with_transcript=False, with_found=False)
                if asked_in is None or not asked_in.active:
                    raise NoActiveGame()
                yield HostReply("", Verdict.UNCLEAR, Outcome.QUEUED, asked_in)
                await waited()
            shown = shown_in() if shown_in is not None and asked_in is not None else None
            try:
                # A queued reply's notice is on screen: noted in the same round trip as the load.
                game = await self.store.load(channel_id, marking=(asked_in, *shown) if asked_in and shown else None)
            except redis.exceptions.RedisError as error:
                if asked_in is None:
                    raise
                log.warning("could not load the game in %s for a queued question: %s", channel_id, error)
                yield HostReply("", Verdict.UNCLEAR, Outcome.NOT_SAVED, asked_in)
                return
            if game is None or not game.active:
                if asked_in is None:
                    raise NoActiveGame()
                await self._forget_shown(channel_id)
                yield HostReply("", Verdict.UNCLEAR, Outcome.GAME_OVER, asked_in)
                return
            if asked_in is not None and game.game_id != asked_in.game_id:
                # Asked about a puzzle that was replaced while it waited: not answered in the new one.
                yield HostReply("", Verdict.UNCLEAR, Outcome.GAME_CHANGED, game)
                return
            if reached := limit_reached(game):
                # A limit passed while nobody ended the game (its clock ran out with no process watching,
                # or ending it failed): end it now instead of asking.
                ended = await self.end_by_limit(channel_id, game.game_id, reached)
                await self._forget_shown(channel_id)
                yield HostReply("", Verdict.UNCLEAR, Outcome.GAME_OVER, ended or game, ended=reached if ended else "")
                return
            async with aclosing(self._answer(game, player, question)) as replies:
                async for reply in replies:
                    yield reply
        finally:
            await holding.__aexit__(None, None, None)

    async def _forget_shown(self, channel_id: int) -> None:
        """A queued reply noted with its turn's load, ended without being answered: its note is removed (no
        Redis call when there is none)."""
        try:
            await self.store.clear_streaming(channel_id)
        except redis.exceptions.RedisError as error:
            log.warning("could not clear the streaming marker in %s: %s", channel_id, error)

    def _claim_cooldown(self, channel_id: int, player: Player) -> tuple[tuple[int, int], float | None, float] | None:
        """Check the player's cooldown and start it, in one step with no await between, so two quick
        messages cannot both pass. Returns what `_refund_cooldown` needs to give it back."""
        if not self.config.question_cooldown:
            return None
        key = (channel_id, player.id)
        now = time.monotonic()
        last = self._last_question.get(key)
        if last is not None and (remaining := last + self.config.question_cooldown - now) > 0:
            raise CoolingDown(remaining)
        if len(self._last_question) > COOLDOWN_SWEEP_SIZE:
            horizon = now - self.config.question_cooldown
            self._last_question = {held: at for held, at in self._last_question.items() if at > horizon}
        self._last_question[key] = now
        return key, last, now

    def _refund_cooldown(self, claim: tuple[tuple[int, int], float | None, float] | None) -> None:
        """Give back a cooldown claimed for a question that was not put to the model."""
        if claim is None:
            return
        key, before, claimed_at = claim
        if self._last_question.get(key) != claimed_at:
            return  # already swept, or replaced by a later claim
        if before is None:
            del self._last_question[key]
        else:
            self._last_question[key] = before

    async def note_shown(self, reply: HostReply, message_id: int | None, shard_id: int) -> bool:
        """A reply being answered is on screen in message `message_id`: note that message in Redis
        until the exchange is stored, so a restarted bot can mark it if this process dies mid-stream.
        True when the reply was one to note (callers note a reply once). Best effort: a Redis error
        only loses that notice, so it is logged, not raised."""
        if reply.outcome is not Outcome.STREAMING or reply.game is None or message_id is None:
            return False
        try:
            await self.store.mark_streaming(reply.game, shard_id, message_id)
        except redis.exceptions.RedisError as error:
            log.warning("could not note the streaming reply in %s: %s", reply.game.channel_id, error)
        return True

    async def _stream_answer(self, game: Game, player: Player, question: str) -> AsyncIterator[HostReply]:
        judge = await self._judge(game, question)
        history = [Turn(exchange.question, _as_host_wrote(exchange, game.language)) for exchange in game.transcript]
        puzzle = Puzzle(game.puzzle_id, game.language, game.title, game.story, game.answer, key_facts=game.key_facts)
        messages = builder_for(self.host)(puzzle, history, question, self.config.history_tokens)
        raw = ""
        shown = ""
        leaked = False
        held = False
        thought_for: int | None = None  # whole seconds of thinking last shown
        yield HostReply("", Verdict.UNCLEAR, Outcome.STREAMING, game)  # the placeholder, before the model speaks
        try:
            form = verdict_form(variant_of(self.host), puzzle)
            async with aclosing(self.host.stream(messages, verdict=form)) as deltas:
                async for delta in deltas:
                    if isinstance(delta, Thinking):
                        # The table sees the host think, and for how long: one update per second of it at
                        # most, however many thought tokens arrive.
                        if not raw and not held and (thought_for is None or int(delta.seconds) > thought_for):
                            thought_for = int(delta.seconds)
                            yield HostReply("", Verdict.UNCLEAR, Outcome.STREAMING, game, thinking=delta.seconds)
                        continue
                    raw += delta
                    if isinstance(delta, FinalText):
                        # The model is done: the reply is judged whole, concluded while its stream is still
                        # open (the end of the body is read after the final edit, when this generator closes).
                        yield await self._conclude(game, player, judge, raw, None)
                        return
                    visible = strip_facts_line(raw, final=False)  # the facts line is for the code only
                    verdict = parse_verdict(visible)
                    # "Correct" lifts the leak guard only when this very question solves the puzzle:
                    # a host talked into "Correct!" by an injection gets no free reveal.
                    solves = judge.solves(verdict, judge.facts(raw, final=False))
                    if judge.holds(verdict, solves):
                        # A guess its facts line may yet make a solve (or a partly right one): nothing of
                        # its explanation is shown until the whole reply has been judged.
                        if not held:
                            held, shown = True, ""
                            yield HostReply("", Verdict.UNCLEAR, Outcome.STREAMING, game)
                        continue
                    if not solves and await judge.leaks(visible, final=False):
                        # Never show a leaking reply; its verdict still counts. Closing the
                        # stream also cancels the rest of the generation upstream.
                        leaked, shown = True, label(verdict, game.language) if verdict is not Verdict.CORRECT else ""
                        break
                    # A word still arriving ("goldfi") is not shown until it is whole and the guard has read it.
                    shown = visible if solves or not raw[-1:].isalnum() else _without_partial_word(visible)
                    yield HostReply(shown, verdict if solves else _unsolved(verdict), Outcome.STREAMING, game)
        except HostBusy as error:
            log.warning("host busy in channel %s: %s", game.channel_id, error)
            yield HostReply("", Verdict.UNCLEAR, Outcome.BUSY, game)
            return
        except HostUnavailable as error:
            log.warning("host unavailable in channel %s: %s", game.channel_id, error)
            yield HostReply("", Verdict.UNCLEAR, Outcome.UNAVAILABLE, game)
            return
        except HostNoVerdict as error:
            # A thought with no answer after it: nothing was shown, nothing counts, the player asks again.
            log.warning("host gave no answer in channel %s: %s", game.channel_id, error)
            yield HostReply("", Verdict.UNCLEAR, Outcome.NO_VERDICT, game)
            return
        except HostInterrupted as error:
            log.warning("host reply interrupted in channel %s: %s", game.channel_id, error)
            cut = parse_verdict(strip_facts_line(raw, final=False))
            if judge.solves(cut, judge.facts(raw, final=False)):
                # The verdict was given and its explanation may already be on screen: solved.
                yield await self._record_solve(game, player, question, shown.strip(), judge.guard, judge.known)
                return
            yield HostReply(shown, _unsolved(cut), Outcome.INTERRUPTED, game)
            return
        yield await self._conclude(game, player, judge, raw, shown if leaked and not held else None)

    async def _conclude(self, game: Game, player: Player, judge: _Judge, raw: str, cut: str | None) -> HostReply:
        """Judge the whole reply and store it. ``cut``: what the leak guard left of a reply it stopped."""
        visible = strip_facts_line(raw)
        verdict = parse_verdict(visible)
        facts = judge.facts(raw, final=True)
        if judge.solves(verdict, facts):
            return await self._record_solve(game, player, judge.question, visible, judge.guard, judge.known)
        credited = credited_facts(verdict, facts)
        if judge.holds(verdict, False) and facts.named is not None:
            # Right as far as it goes, but key facts remain: what it found counts, the puzzle goes on.
            shown = label(Verdict.YES, game.language)
            return await self._record(game, player, judge.question, shown, Verdict.YES, False, credited, True)
        # The whole reply, judged once more as players will see it (facts line gone).
        leaked = cut is not None or await judge.leaks(visible, final=True)
        if not leaked:
            shown = visible
        else:
            shown = cut if cut is not None else label(verdict, game.language) if verdict is not Verdict.CORRECT else ""
        if verdict is Verdict.CORRECT:
            log.warning("channel %s: 'Correct' for a message that does not solve; not solved", game.channel_id)
            verdict = Verdict.UNCLEAR
        if verdict is Verdict.UNCLEAR:
            return HostReply(shown.strip(), verdict, Outcome.UNCLEAR, game, leaked)
        return await self._record(game, player, judge.question, shown.strip(), verdict, leaked, credited)

    async def _judge(self, game: Game, question: str) -> _Judge:
        guard = self._guard(game)
        known = "\n".join([game.story, *(exchange.question for exchange in game.transcript), question])
        found = frozenset(game.found)
        total = len(game.key_facts)
        asked = [*(exchange.question for exchange in game.transcript), question]

        def by_meaning() -> tuple[Coverage, MeaningGuard]:
            # One judgement for both (one worker-thread hop at most). The puzzle's own texts are cached per game.
            meaning = puzzle_meaning(game.answer, game.key_facts)
            coverage = judge_coverage(meaning, game.story, game.key_facts, game.language, question)
            return coverage, meaning_guard_for(meaning, found, asked)

        coverage, meaning_guard = await judged_by_meaning(by_meaning)
        return _Judge(guard, meaning_guard, question, total, found, known, coverage)

    async def _record_solve(
        self, game: Game, player: Player, question: str, text: str, guard: LeakGuard, known: str
    ) -> HostReply:
        """Store a solve. Its explanation went out unguarded; if the solve was not stored the game
        goes on, so the final text is the guarded one."""
        reply = await self._record(game, player, question, text, Verdict.CORRECT, False)
        if reply.outcome is Outcome.NOT_SAVED and guard.leaks(text, known):
            return replace(reply, text=label(Verdict.CORRECT, game.language), leaked=True)
        return reply

    async def _answer(self, game: Game, player: Player, question: str) -> AsyncIterator[HostReply]:
        """Answer; a reply that ends without being stored forgets its streaming marker here (storing
        does it in the same script). A cancelled reply keeps it, for a restarted bot to mark."""
        async with aclosing(self._stream_answer(game, player, question)) as replies:
            async for reply in replies:
                if reply.done and reply.outcome not in (Outcome.ANSWERED, Outcome.SOLVED):
                    try:
                        await self.store.clear_streaming(game.channel_id)
                    except redis.exceptions.RedisError as error:
                        log.warning("could not clear the streaming marker in %s: %s", game.channel_id, error)
                yield reply

    async def _record(
        self,
        game: Game,
        player: Player,
        question: str,
        text: str,
        verdict: Verdict,
        leaked: bool,
        credited: frozenset[int] = frozenset(),
        partial: bool = False,
    ) -> HostReply:
        """Store the exchange, with the key facts it found (a solve finds every one still unfound)."""
        exchange = Exchange(question, text, verdict.value, player.id, time.time(), tuple(sorted(credited)))
        solved = verdict is Verdict.CORRECT
        before = frozenset(game.found)
        try:
            stored = await self.store.append(
                game, exchange, solved_by=player.id if solved else None, found=credited, finder=player.name
            )
        except OutOfQuestions:  # another process stored the last allowed question first
            return await self._refused_at_question_limit(HostReply(text, verdict, Outcome.GAME_OVER, game, leaked))
        except redis.exceptions.RedisError as error:
            log.warning("could not store an exchange in channel %s: %s", game.channel_id, error)
            return HostReply(text, verdict, Outcome.NOT_SAVED, game, leaked)
        if not stored:
            return HostReply(text, verdict, Outcome.GAME_OVER, game, leaked)
        game.transcript.append(exchange)
        game.questions += 1
        new = tuple(sorted(i for i, fact in game.found.items() if i not in before and fact.by == player.id))
        if solved:
            game.status, game.solver, game.ended_at = "solved", player.id, exchange.at
            return HostReply(text, verdict, Outcome.SOLVED, game, leaked, new)
        if out_of_questions(game.questions, game.max_questions):
            return await self._end_at_question_limit(
                HostReply(text, verdict, Outcome.ANSWERED, game, leaked, new, partial)
            )
        return HostReply(text, verdict, Outcome.ANSWERED, game, leaked, new, partial)

    async def _end_at_question_limit(self, reply: HostReply) -> HostReply:
        """The last allowed question was answered: the game ends (its answer is revealed by the caller)."""
        game = reply.game
        assert game is not None
        try:
            ended = await self.end_by_limit(game.channel_id, game.game_id, QUESTION_LIMIT)
        except redis.exceptions.RedisError as error:
            # The answer was stored; the next question's load sees the limit reached and ends it then.
            log.warning("could not end the game in %s at its question limit: %s", game.channel_id, error)
            return reply
        if ended is None:
            return reply
        ended.transcript = game.transcript
        return replace(reply, game=ended, ended=QUESTION_LIMIT)

    async def _refused_at_question_limit(self, reply: HostReply) -> HostReply:
        """Not stored: the game is at its question limit. It ends here unless the process that stored
        the last question ended it first; either way the player is told the game is over."""
        game = reply.game
        assert game is not None
        try:
            ended = await self.end_by_limit(game.channel_id, game.game_id, QUESTION_LIMIT)
        except redis.exceptions.RedisError as error:
            log.warning("could not end the game in %s at its question limit: %s", game.channel_id, error)
            return reply
        return replace(reply, game=ended, ended=QUESTION_LIMIT) if ended is not None else reply

    def _guard(self, game: Game) -> LeakGuard:
        """Leak guards are built once per game, not per question. Every game passes here when it
        starts or is asked about, so the channel's language is noted too: an overload refusal
        answers in it without a Redis read."""
        self._languages[game.channel_id] = game.language
        self._languages.move_to_end(game.channel_id)
        if len(self._languages) > LANGUAGES_KEPT:
            self._languages.popitem(last=False)
        guard = self._guards.get(game.game_id)
        if guard is None:
            guard = self._guards[game.game_id] = LeakGuard(game.story, game.answer, game.language, game.key_facts)
            if len(self._guards) > GUARD_CACHE_SIZE:
                self._guards.popitem(last=False)
        else:
            self._guards.move_to_end(game.game_id)
        return guard
