"""How far two correct fp32 runs of one model may differ, and which greedy choices that leaves decided.

IEEE fp32 rounds every single operation the same way on every CPU, but a sum's result depends on the
order its terms are added in, and that order differs between CPUs and libraries (vector widths,
blocking, threads). A sum of n terms carries at most gamma_n = n*u / (1 - n*u) times the sum of the
terms' magnitudes in rounding error, u = 2^-24 (Higham, Accuracy and Stability of Numerical
Algorithms, section 3.1). Golden tests compare with tolerances built from that bound, and compare
greedy token ids exactly only where the top-1 minus top-2 margin is wider than what two such runs
can disagree by; a near tie is checked as a near tie.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

UNIT_ROUNDOFF = 2.0**-24  # fp32, round to nearest


def reduction_error_bound(length: int) -> float:
    """gamma_n: the worst-case relative rounding error of an fp32 sum of `length` terms."""
    return length * UNIT_ROUNDOFF / (1 - length * UNIT_ROUNDOFF)


def logits_tolerance(logits: torch.Tensor, longest_reduction: int) -> float:
    """How far one fp32 run's logits may stand from another's: gamma_n of the model's longest
    reduction, relative to the largest |logit|.

    Why that is safe: a logit is a length-`hidden` dot product of the final hidden state, whose own
    error is what every earlier layer's reductions left in it (LayerNorms rescale it, so it is
    relative to the values' size, not to any fixed unit). On the tiny checkpoint each implementation
    stays within 1.5e-5 of the same model computed in fp64 (the original's goldens 1.5e-5, ours
    1.2e-5; logits up to 15.2): 0.07 of this bound (gamma_256 * 15.2 = 2.3e-4) for each, so two CPUs
    differ by at most a seventh of it. It stays small enough to catch porting slips: rotary
    frequencies not rounded to fp16 as the original rounds them move the logits by 1.8e-3 (8x the
    bound), GELU's erf form instead of tanh by 4.9e-3.
    """
    return reduction_error_bound(longest_reduction) * float(logits.abs().max())


def decided_steps(scores: Sequence[torch.Tensor], longest_reduction: int) -> int:
    """How many leading greedy steps have a top-1 minus top-2 margin wider than two tolerances.

    Two runs' logits each stand within a tolerance of the exact values, so they disagree by less than
    two; where the margin is wider, every correct fp32 run picks the same token. `scores` holds one
    [vocab] or [1, vocab] tensor per step (what generate(output_scores=True) returns).
    """
    for step, row in enumerate(scores):
        top = row.reshape(-1).float().topk(2).values
        if float(top[0] - top[1]) <= 2 * logits_tolerance(row, longest_reduction):
            return step
    return len(scores)


def assert_choice_agrees(row: torch.Tensor, choice: int, longest_reduction: int) -> None:
    """Another run's greedy choice against our logits for the same step: within two tolerances of our
    best. Where our top-2 margin is wider than that, only our argmax passes; in a near tie, either side."""
    row = row.reshape(-1).float()
    shortfall = float(row.max() - row[choice])
    assert shortfall <= 2 * logits_tolerance(row, longest_reduction), (choice, int(row.argmax()), shortfall)


def assert_greedy_agrees(
    ours: Sequence[int], scores: Sequence[torch.Tensor], expected: Sequence[int], longest_reduction: int
) -> int:
    """Our greedy ids (prompt + generated, with each step's scores) against another run's.

    Exactly equal over the steps the margins decide; at the first near tie (if any), the other run's
    token must score within two tolerances of our best, and the sequences may part there. Returns the
    number of generated steps compared exactly.
    """
    generated = len(scores)
    prompt = len(ours) - generated
    assert len(expected) == len(ours), (len(expected), len(ours))
    decided = decided_steps(scores, longest_reduction)
    assert list(ours[: prompt + decided]) == list(expected[: prompt + decided])
    if decided < generated:
        assert_choice_agrees(scores[decided], expected[prompt + decided], longest_reduction)
    return decided
