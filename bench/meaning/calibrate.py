"""Where the meaning thresholds come from: the labelled judging set (bench/judge/cases/*.yaml), per language.

    python -m bench.meaning.calibrate

- cover: a right guess's labelled ``covers`` are the key facts it states in the players' own words. The
  threshold keeps 95 % of them by meaning alone: their 5th percentile, rounded down to a multiple of 0.05.
- word floor: a message naming a fact's own word counts only when it is at least this close to the fact: just
  above the closest that a pure injection of the set (``injection: true``, labelled irrelevant) comes to any fact
  (read without the host-talk filter of bot.game.meaning.closeness, which leaves such attacks nothing).
- anchor: a solve must state one key fact at least this clearly: the lowest best-fact cosine of the set's
  right guesses (label correct), rounded down to a multiple of 0.05, less 0.05 (31 guesses a language are few).
Nothing else of the evaluation sets (bench/meaning/sets) is read here.
"""

from __future__ import annotations

import math

import numpy as np

from bench.judge.cases import BUILTIN_FOLDER, load_case_file
from bot.game.meaning import closeness, puzzle_meaning
from bot.game.puzzles import builtin_puzzles
from bot.game.verdict import Verdict

STEP = 0.05


def calibrate(language: str) -> dict[str, float]:
    bank = {puzzle.id: puzzle for puzzle in builtin_puzzles()}
    covers: list[float] = []
    attacks: list[float] = []
    right: list[float] = []
    for case in load_case_file(BUILTIN_FOLDER / f"{language}.yaml", bank):
        if case.covers is None or not case.puzzle.key_facts:
            continue
        meaning = puzzle_meaning(case.puzzle.answer, case.puzzle.key_facts)
        scores, _ = closeness(meaning, case.question)
        if case.label is Verdict.CORRECT:
            right.append(float(scores.max()))
        if case.injection and case.label is Verdict.IRRELEVANT:  # a pure attack, no guess inside
            # Without the host-talk filter, which leaves a pure attack no closeness at all.
            attacks.extend(float(score) for score in closeness(meaning, case.question, filter_host_talk=False)[0])
        covers.extend(float(scores[index]) for index in case.covers)
    return {
        "covers": len(covers),
        "cover_p5": float(np.percentile(covers, 5)),
        "cover": math.floor(np.percentile(covers, 5) / STEP) * STEP,
        "attack_max": max(attacks),
        "word_floor": math.ceil(max(attacks) / STEP) * STEP,
        "right_min": min(right),
        "anchor": math.floor(min(right) / STEP) * STEP - STEP,
    }


def main() -> None:
    for language in ("en", "zh"):
        figures = calibrate(language)
        print(language, {key: round(value, 3) for key, value in figures.items()})


if __name__ == "__main__":
    main()
