"""How bench.generate.calibrate picks the near-duplicate thresholds and scores a half, on made-up scores (the real
run encodes the whole bank and takes a while: `python -m bench.generate.calibrate`); and that the evaluation set's
labels name real bank puzzles, with the tuning and held-out halves kept apart."""

from __future__ import annotations

import yaml

from bench.generate.calibrate import FOLDER, Scored, choose, figures, labelled_pairs
from bot.game.puzzles import builtin_puzzles
from bot.game.similarity import MEANING_THRESHOLD, WORDING_THRESHOLD

TUNING = [
    Scored("copy", True, 0.91, 0.80, "a"),
    Scored("translation", True, 0.66, 0.02, "b"),
    Scored("paraphrase", True, 0.62, 0.40, "c"),
    Scored("same-setting", False, 0.58, 0.47, "a"),
    Scored("new", False, 0.35, 0.12, "b"),
]


def test_thresholds_separate_the_tuning_half_and_wording_stays_above_every_new_puzzle() -> None:
    meaning, wording = choose(TUNING)
    assert wording == 0.5  # the lowest multiple of 0.05 above 0.47
    assert meaning == 0.62  # the highest cosine that still refuses every duplicate and accepts every new one
    result = figures(TUNING, meaning, wording)
    assert result["balanced_accuracy"] == 1.0 and result["missed"] == [] and result["wrongly_refused"] == []


def test_a_half_is_scored_with_the_errors_named() -> None:
    held_out = [Scored("far-paraphrase", True, 0.55, 0.1, "a"), Scored("near-new", False, 0.7, 0.2, "b")]
    result = figures(held_out, 0.6, 0.55)
    assert (result["duplicates_refused"], result["new_accepted"], result["balanced_accuracy"]) == (0, 0, 0.0)
    assert result["missed"] == ["far-paraphrase"] and result["wrongly_refused"] == ["near-new ~ b (0.70)"]


def test_the_evaluation_set_names_bank_puzzles_and_its_halves_do_not_overlap() -> None:
    bank = {puzzle.id for puzzle in builtin_puzzles()}
    halves = [
        yaml.safe_load((FOLDER / name).read_text(encoding="utf-8"))["candidates"]
        for name in ("tune.yaml", "heldout.yaml")
    ]
    for half in halves:
        assert {case["duplicate_of"] for case in half} - {None} <= bank
        assert {case["language"] for case in half} == {"en", "zh"}
    tuning, held_out = ({case["id"] for case in half} for half in halves)
    assert not tuning & held_out and set(labelled_pairs()) <= bank
    assert (MEANING_THRESHOLD, WORDING_THRESHOLD) == (0.60, 0.55)  # what the last calibration chose (README)
