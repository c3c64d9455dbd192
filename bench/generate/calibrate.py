"""Where the near-duplicate thresholds of bot.game.similarity come from, and how well they do on cases not tuned to.

    python -m bench.generate.calibrate

Each candidate is a draft checked against the built-in bank (the bank's own puzzles are candidates too, each
against the rest): refused when its closest known puzzle reaches either threshold. The cases are labelled in
bench/generate/duplicates: tune.yaml and the English bank puzzles choose the thresholds, heldout.yaml and the
Chinese bank puzzles are scored once with them.

- wording: the lowest multiple of 0.05 above every tuning non-duplicate's trigram overlap (a copy detector:
  it must never refuse a new puzzle on its own).
- meaning: the cosine, in steps of 0.01, with the best balanced accuracy on the tuning half (the mean of the
  share of duplicates refused and the share of new puzzles accepted); among equals, the highest.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.game.puzzles import Puzzle, builtin_puzzles
from bot.game.similarity import PuzzleIndex

FOLDER = Path(__file__).parent / "duplicates"
STEP = 0.05


@dataclass(frozen=True)
class Scored:
    id: str
    duplicate: bool
    meaning: float
    wording: float
    nearest: str


def labelled_pairs() -> dict[str, set[str]]:
    pairs = yaml.safe_load((FOLDER / "bank_pairs.yaml").read_text(encoding="utf-8"))["pairs"]
    twins: dict[str, set[str]] = {}
    for first, second in pairs:
        twins.setdefault(first, set()).add(second)
        twins.setdefault(second, set()).add(first)
    return twins


def score_half(index: PuzzleIndex, file: str, bank_language: str) -> list[Scored]:
    """The candidates of one file, then the bank's puzzles of one language, each at its closest known puzzle."""
    scored: list[Scored] = []
    for case in yaml.safe_load((FOLDER / file).read_text(encoding="utf-8"))["candidates"]:
        scored.append(_scored(index, case["id"], case["story"], case["answer"], case["duplicate_of"] is not None))
    twins = labelled_pairs()
    for puzzle in index.puzzles:
        if puzzle.language == bank_language:
            scored.append(_scored(index, puzzle.id, puzzle.story, puzzle.answer, puzzle.id in twins, skip=puzzle))
    return scored


def _scored(
    index: PuzzleIndex, ident: str, story: str, answer: str, duplicate: bool, skip: Puzzle | None = None
) -> Scored:
    found = index.resemblances(story, answer, skip=[skip.id] if skip else [])
    closest = max(found, key=lambda item: item.meaning)
    return Scored(ident, duplicate, closest.meaning, max(item.wording for item in found), closest.puzzle_id)


def choose(tuning: list[Scored]) -> tuple[float, float]:
    """(meaning, wording) thresholds from the tuning half, as the module docstring says."""
    wording = math.floor(max(item.wording for item in tuning if not item.duplicate) / STEP + 1) * STEP
    best: tuple[float, float] = (-1.0, 0.0)
    for step in range(30, 100):
        threshold = step / 100
        accuracy = figures(tuning, threshold, wording)["balanced_accuracy"]
        if accuracy >= best[0]:
            best = (accuracy, threshold)
    return best[1], round(wording, 2)


def figures(scored: list[Scored], meaning: float, wording: float) -> dict[str, object]:
    refused = {item.id for item in scored if item.meaning >= meaning or item.wording >= wording}
    duplicates = [item for item in scored if item.duplicate]
    new = [item for item in scored if not item.duplicate]
    caught = sum(item.id in refused for item in duplicates)
    kept = sum(item.id not in refused for item in new)
    return {
        "duplicates": len(duplicates),
        "duplicates_refused": caught,
        "new": len(new),
        "new_accepted": kept,
        "balanced_accuracy": round((caught / len(duplicates) + kept / len(new)) / 2, 3),
        "missed": sorted(item.id for item in duplicates if item.id not in refused),
        "wrongly_refused": sorted(
            f"{item.id} ~ {item.nearest} ({item.meaning:.2f})" for item in new if item.id in refused
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    index = PuzzleIndex(builtin_puzzles())
    tuning = score_half(index, "tune.yaml", "en")
    meaning, wording = choose(tuning)
    held_out = score_half(index, "heldout.yaml", "zh")  # scored only now, with the thresholds fixed
    result = {
        "thresholds": {"meaning": meaning, "wording": wording},
        "tuning": figures(tuning, meaning, wording),
        "held_out": figures(held_out, meaning, wording),
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
