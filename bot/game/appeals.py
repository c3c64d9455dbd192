"""Appeals: a player contests a verdict, the host judges it again, and the game follows the new verdict.

Who may appeal: the player who asked the question, or a moderator (Manage Messages), within
`game.appeal_window` seconds of the verdict, at most `game.max_appeals` times per game (the table's count), each
verdict once. Only a recorded Yes, No or Irrelevant can be contested: a solve ends the game, and a reply with no
verdict recorded nothing.

What a changed verdict does, under the game's own solving rule (bot/game/solving.py) and meaning guards:

- The new verdict's credit is judged as if the host had given it the first time: the facts its line names,
  that the message is about in meaning, at most two, found by nobody else. A word salad earns nothing on appeal
  either, since what the message is about is judged by meaning, not by the host.
- The key facts the question was credited with and that the new verdict does not credit are taken back, but
  only where the question's own record still holds them (a fact is one finder's; anyone may find it again).
- A Correct solves only when the message would have solved as a question now (every fact still unfound
  covered, the host's facts line with the facts found naming them all); a Correct that does not solve but is
  about part of the answer is "right so far" (a Yes with its facts); one about nothing leaves the verdict as it
  was.
- Scores follow: a game's points are counted from its found facts and its solver when it ends, and an appeal
  is refused once the game has ended, so nothing already counted changes.
- A verdict the appeal upholds changes nothing but is counted against `max_appeals`; an appeal the host
  could not judge (the model unreachable) is given back, uncounted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import redis.exceptions

from bot.game.appeal import AppealUnavailable, Rejudgement, rejudge
from bot.game.appeal_store import AppealStore, Change, Claim
from bot.game.host import ModelHost
from bot.game.locks import AtCapacity
from bot.game.meaning import MeaningGuard, puzzle_meaning
from bot.game.puzzles import Puzzle
from bot.game.session import GameError, GameService, Player, judged_by_meaning, meaning_guard_for
from bot.game.solving import FactsJudgement, credited_facts, judge_coverage, judge_solve
from bot.game.store import Exchange, Game
from bot.game.verdict import Verdict, label

log = logging.getLogger(__name__)

APPEALABLE = frozenset({Verdict.YES, Verdict.NO, Verdict.IRRELEVANT})
# Why an appeal is refused (each has a text in bot/texts.py, "appeal_<reason>").
REASONS = (
    "off",  # game.max_appeals is 0
    "no_game",  # no game in the channel
    "gone",  # the verdict belongs to a game that is no longer the channel's (a stale button)
    "ended",  # the game has ended
    "none_yours",  # /appeal: the caller has no verdict to contest
    "not_found",  # that exchange is no longer in the transcript (or never was)
    "not_yours",  # only the asker or a moderator may contest it
    "no_verdict",  # not a Yes, No or Irrelevant
    "again",  # appealed already (or being appealed now)
    "window",  # past game.appeal_window
    "limit",  # the table used its game.max_appeals
    "unavailable",  # the host could not be reached: not counted
    "busy",  # the process is at its in-flight limit (an appeal asks the host several times): not counted
    "ended_meanwhile",  # the game ended while the host reconsidered: nothing changed
)


class AppealRefused(GameError):
    def __init__(self, reason: str, game: Game | None = None) -> None:
        super().__init__(f"appeal refused: {reason}")
        self.reason = reason
        self.game = game


@dataclass(frozen=True, slots=True)
class AppealOutcome:
    """An appeal's result. `text` is the reply as it now reads (it passed the leak guard unless it solves)."""

    game: Game
    number: int  # the exchange's number in the game (1-based)
    exchange: Exchange  # as it now reads
    before: Verdict
    after: Verdict
    text: str
    new_facts: tuple[int, ...] = ()  # credited to the asker by the new verdict
    taken_back: tuple[int, ...] = ()  # no longer credited
    solved: bool = False
    partial: bool = False  # a Correct that does not solve: recorded as a Yes

    @property
    def changed(self) -> bool:
        return self.after is not self.before


@dataclass(frozen=True, slots=True)
class OpenAppeal:
    """A claimed appeal, waiting for the host's second judgement."""

    game: Game
    claim: Claim

    @property
    def exchange(self) -> Exchange:
        return self.claim.exchange


@dataclass(frozen=True, slots=True)
class _Decision:
    after: Verdict
    credited: frozenset[int]
    solves: bool = False
    partial: bool = False


class Appeals:
    """Contesting verdicts in the games of one GameService; the re-judging host may be a stronger model."""

    def __init__(
        self, games: GameService, host: ModelHost, samples: int = 3, clock: Callable[[], float] = time.time
    ) -> None:
        self.games = games
        self.host = host
        self.samples = samples
        self.clock = clock
        self.store = AppealStore(games.store)

    @property
    def window(self) -> float:
        return self.games.config.appeal_window

    @property
    def most(self) -> int:
        return self.games.config.max_appeals

    async def appeal(
        self,
        channel_id: int,
        player: Player,
        number: int | None = None,
        *,
        game_id: str | None = None,
        asker: int | None = None,
    ) -> AppealOutcome:
        """Contest exchange `number` and judge it again: `open`, then `judge`."""
        return await self.judge(await self.open(channel_id, player, number, game_id=game_id, asker=asker), player)

    async def open(
        self,
        channel_id: int,
        player: Player,
        number: int | None = None,
        *,
        game_id: str | None = None,
        asker: int | None = None,
    ) -> OpenAppeal:
        """Claim exchange `number` (None: the player's latest verdict) of the channel's game for an appeal
        (`game_id` and `asker`, when given, must still match: a button names both); AppealRefused says why not.
        Quick (Redis only): a caller can acknowledge the player before the slow part, `judge`."""
        if self.most <= 0:
            raise AppealRefused("off")
        game = await self.games.store.load(channel_id)
        if game is None:
            raise AppealRefused("no_game")
        if game_id is not None and game.game_id != game_id:
            raise AppealRefused("gone", game)
        if not game.active:
            raise AppealRefused("ended", game)
        number, exchange = self._find(game, player, number)
        if asker is not None and exchange.user_id != asker:
            raise AppealRefused("not_found", game)
        if exchange.user_id != player.id and not player.moderator:
            raise AppealRefused("not_yours", game)
        claim = await self.store.claim(game, number, exchange.user_id, self.clock(), self.window, self.most)
        if isinstance(claim, str):
            raise AppealRefused(claim, game)
        return OpenAppeal(game, claim)

    async def judge(self, opened: OpenAppeal, player: Player, asker_name: str | None = None) -> AppealOutcome:
        """The host judges the claimed verdict again and the game follows the majority (`asker_name`: the asker's
        display name, for facts credited to them). A failure gives the claim back."""
        game, claim = opened.game, opened.claim
        try:
            self.games.admission.enter()  # the same door as questions: it asks the host `samples` times
        except AtCapacity:
            await self._give_back(claim)
            raise AppealRefused("busy", game) from None
        try:
            judged = await rejudge(
                self.host, _puzzle(game), claim.exchange.question, Verdict(claim.exchange.verdict),
                claim.exchange.reply, self.samples,
            )  # fmt: skip
        except AppealUnavailable:
            await self._give_back(claim)
            raise AppealRefused("unavailable", game) from None
        except BaseException:
            await self._give_back(claim)
            raise
        finally:
            self.games.admission.leave()
        return await self._apply(game, claim, judged, player, asker_name)

    def _find(self, game: Game, player: Player, number: int | None) -> tuple[int, Exchange]:
        """The exchange to contest and its number; the transcript holds the last len(transcript) of them."""
        first = game.questions - len(game.transcript) + 1
        if number is None:
            for offset in range(len(game.transcript) - 1, -1, -1):
                exchange = game.transcript[offset]
                if exchange.user_id == player.id and Verdict(exchange.verdict) in APPEALABLE:
                    return first + offset, exchange
            raise AppealRefused("none_yours", game)
        if not first <= number <= game.questions:
            raise AppealRefused("not_found", game)
        return number, game.transcript[number - first]

    async def _give_back(self, claim: Claim) -> None:
        try:
            await self.store.release(claim)
        except redis.exceptions.RedisError as error:  # the claim stays counted; logged, not raised over the cause
            log.warning("could not give back an appeal claim in %s: %s", claim.channel_id, error)

    async def _apply(
        self, game: Game, claim: Claim, judged: Rejudgement, appellant: Player, asker_name: str | None
    ) -> AppealOutcome:
        exchange = claim.exchange
        before = Verdict(exchange.verdict)
        decision, text = await self._decide(game, exchange, before, judged)
        changed = decision.after is not before
        shown = text if changed else exchange.reply
        after = replace(
            exchange,
            reply=shown,
            verdict=decision.after.value,
            facts=tuple(sorted(decision.credited)) if changed else exchange.facts,
            appealed_from=before.value,
        )
        taken_back = frozenset(exchange.facts) - decision.credited if changed else frozenset()
        change = Change(
            after, taken_back, decision.credited if changed else frozenset(), decision.solves, changed,
            appellant.id, asker_name or self._finder_name(game, exchange, appellant),
        )  # fmt: skip
        now = self.clock()
        status, found = await self.store.apply(claim, change, len(game.key_facts), now)
        if status == "ended":
            raise AppealRefused("ended_meanwhile", game)
        if status != "ok":
            raise AppealRefused("again" if status == "lost" else status, game)
        before_found = game.found
        game.found = found
        game.appeals += 1
        game.appeals_changed += int(changed)
        offset = claim.number - (game.questions - len(game.transcript) + 1)
        if 0 <= offset < len(game.transcript):
            game.transcript[offset] = after
        if decision.solves:
            game.status, game.solver, game.ended_at = "solved", exchange.user_id, now
            await self.games.store._tell("ended", game.channel_id)  # the score keeper applies the tally now
        new = tuple(
            sorted(index for index, fact in found.items() if index not in before_found and fact.by == exchange.user_id)
        )
        return AppealOutcome(
            game, claim.number, after, before, decision.after, shown, new,
            tuple(sorted(index for index in taken_back if index not in found)), decision.solves, decision.partial,
        )  # fmt: skip

    @staticmethod
    def _finder_name(game: Game, exchange: Exchange, appellant: Player) -> str:
        """The asker's display name for a fact credited to them: the appellant's own, or one their earlier finds
        recorded; their id otherwise."""
        if appellant.id == exchange.user_id:
            return appellant.name
        return next((fact.name for fact in game.found.values() if fact.by == exchange.user_id), str(exchange.user_id))

    async def _decide(
        self, game: Game, exchange: Exchange, before: Verdict, judged: Rejudgement
    ) -> tuple[_Decision, str]:
        """What the majority's verdict earns under the solving rule, and the reply text players may see."""
        unchanged = _Decision(before, frozenset(exchange.facts))
        if judged.verdict is Verdict.UNCLEAR or judged.verdict is before:
            return unchanged, exchange.reply
        # The question's own facts are not "found before" it: its credit is judged afresh.
        own = {
            index
            for index, fact in game.found.items()
            if index in exchange.facts and fact.by == exchange.user_id and int(fact.at) == int(exchange.at)
        }
        found_before = frozenset(game.found) - own
        total = len(game.key_facts)
        asked = [item.question for item in game.transcript]

        def by_meaning() -> tuple[FactsJudgement, MeaningGuard]:
            meaning = puzzle_meaning(game.answer, game.key_facts)
            coverage = judge_coverage(meaning, game.story, game.key_facts, game.language, exchange.question)
            facts = FactsJudgement(total, found_before, judged.named, True, coverage)
            return facts, meaning_guard_for(meaning, found_before, asked)

        facts, meaning_guard = await judged_by_meaning(by_meaning)
        guard = self.games._guard(game)
        if judged.verdict is Verdict.CORRECT:
            if judge_solve(guard, exchange.question, Verdict.CORRECT, facts, facts.coverage.key):
                return _Decision(Verdict.CORRECT, frozenset(), solves=True), judged.text
            about = facts.coverage.key or bool(facts.coverage.facts)
            if not (total and about and judged.named is not None and before is not Verdict.YES):
                return unchanged, exchange.reply  # a Correct for a message about nothing earns nothing
            credited = credited_facts(Verdict.CORRECT, facts)
            return _Decision(Verdict.YES, credited, partial=True), label(Verdict.YES, game.language)
        credited = credited_facts(judged.verdict, facts)
        known = "\n".join([game.story, *asked])
        text = judged.text
        if guard.leaks(text, known) or await judged_by_meaning(lambda: meaning_guard.leaks(text)):
            text = label(judged.verdict, game.language)  # the verdict counts; its comment is never shown
        return _Decision(judged.verdict, credited), text


def _puzzle(game: Game) -> Puzzle:
    return Puzzle(game.puzzle_id, game.language, game.title, game.story, game.answer, key_facts=game.key_facts)
