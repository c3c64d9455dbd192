"""The appeal variant: every verdict a run gave is contested the way the game contests it, and scored again.

The game lets a player contest a recorded Yes, No or Irrelevant (bot/game/appeals.py); the host then judges the
message again with the appeal prompt, several samples and a majority (bot/game/appeal.py), and a verdict with
no majority stands. Here each such verdict of one row of the run is appealed exactly so, right ones too, and the
report says how many wrong verdicts the appeal fixes and how many right ones it would overturn. A first verdict
the game cannot contest (a Correct, or a reply with no readable verdict) is counted, not appealed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.judge.cases import Case
from bench.judge.scoring import Scored, judged_as
from bot.game.appeal import AppealUnavailable, rejudge
from bot.game.appeals import APPEALABLE
from bot.game.host import ModelHost
from bot.game.verdict import Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Appealed:
    case: Case
    first: Verdict
    majority: Verdict  # UNCLEAR: no verdict had more than half of the samples
    reply: str  # the majority's reply, as the host wrote it
    votes: tuple[str, ...] = ()  # each sample's verdict

    @property
    def after(self) -> Verdict:
        """The verdict that stands after the appeal: the majority's, or the first one when there is none."""
        return self.first if self.majority is Verdict.UNCLEAR else self.majority

    @property
    def right_before(self) -> bool:
        return judged_as(self.case, self.first) is self.case.label

    @property
    def right_after(self) -> bool:
        return judged_as(self.case, self.after) is self.case.label

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case.id,
            "label": self.case.label.value,
            "first": self.first.value,
            "majority": self.majority.value,
            "after": self.after.value,
            "right_before": self.right_before,
            "right_after": self.right_after,
            "reply": self.reply,
            "votes": list(self.votes),
        }


async def appeal_all(
    host: ModelHost, scored: Sequence[Scored], samples: int, concurrency: int = 4
) -> tuple[list[Appealed], int, list[dict[str, str]]]:
    """Appeal every contestable verdict in `scored`: (the appeals, how many verdicts could not be contested,
    the appeals that failed because no sample came back)."""
    gate = asyncio.Semaphore(max(1, concurrency))
    contestable = [item for item in scored if item.verdict in APPEALABLE]

    async def one(item: Scored) -> Appealed | dict[str, str]:
        async with gate:
            try:
                judged = await rejudge(
                    host, item.case.puzzle, item.case.question, item.verdict, item.reply, samples
                )  # fmt: skip
            except AppealUnavailable as error:
                log.warning("appeal of %s failed: %s", item.case.id, error)
                return {"case": item.case.id, "error": str(error)}
        votes = tuple(sample.verdict.value for sample in judged.samples)
        return Appealed(item.case, item.verdict, judged.verdict, judged.line(item.case.puzzle.language), votes)

    results = await asyncio.gather(*(one(item) for item in contestable))
    appealed = [result for result in results if isinstance(result, Appealed)]
    failed = [result for result in results if isinstance(result, dict)]
    return appealed, len(scored) - len(contestable), failed


def summarise_appeals(
    appealed: Sequence[Appealed], not_contestable: int, failed: Sequence[dict[str, str]], samples: int
) -> dict[str, Any]:
    wrong = [item for item in appealed if not item.right_before]
    right = [item for item in appealed if item.right_before]
    return {
        "samples": samples,
        "appealed": len(appealed),
        "wrong": len(wrong),
        "fixed": sum(item.right_after for item in wrong),
        "right": len(right),
        "overturned": sum(not item.right_after for item in right),
        "no_majority": sum(item.majority is Verdict.UNCLEAR for item in appealed),
        "not_contestable": not_contestable,
        "failed": len(failed),
    }


def appeal_lines(appeal: dict[str, Any]) -> list[str]:
    """The appeal's figures under the run's table (docs/JUDGING.md explains them)."""
    return [
        "",
        f"## Appeal of {appeal['variant']} ({appeal['model']}, {appeal['samples']} sample(s), majority)",
        "",
        f"- wrong verdicts appealed: {appeal['wrong']}, fixed by the appeal: {appeal['fixed']}",
        f"- right verdicts appealed: {appeal['right']}, overturned by the appeal: {appeal['overturned']}",
        f"- no majority (the first verdict stands): {appeal['no_majority']}",
        f"- not contestable in the game (Correct or unreadable): {appeal['not_contestable']}; "
        f"appeals with no sample back: {appeal['failed']}",
    ]
