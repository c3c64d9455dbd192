"""What removing thinking costs per reply: `bot.game.thinking.ThoughtFilter` (what `ModelHost` runs on every
delta) over replies streamed in 4-character deltas: a plain verdict, and a 2,000-character thought in each shape
(a reasoning field, an inline block, output that starts mid-thought, the same once the model is known to).

    .venv/bin/python -m bench.bench_thinking_filter [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bot.game.thinking import ThoughtFilter

ANSWER = "No. Think about what he needed instead of water, and why the bartender acted at once.\n[facts: none]"
THOUGHT = "The user asks whether it rained; rain plays no part, the hiccups do, so the verdict is No. " * 22


def pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


SHAPES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "plain verdict": ([{"content": p} for p in pieces(ANSWER)], False),
    "reasoning field": (
        [{"reasoning_content": p} for p in pieces(THOUGHT)] + [{"content": p} for p in pieces(ANSWER)],
        False,
    ),
    "inline <think>": ([{"content": p} for p in pieces(f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}")], False),
    "mid-thought": ([{"content": p} for p in pieces(f"{THOUGHT}\n</think>\n\n{ANSWER}")], False),
    "mid-thought, known": ([{"content": p} for p in pieces(f"{THOUGHT}\n</think>\n\n{ANSWER}")], True),
}


def one_reply(deltas: list[dict[str, Any]], known: bool) -> float:
    started = time.perf_counter()
    reader = ThoughtFilter(starts_mid_thought=known)
    shown = "".join(reader.read(delta).visible for delta in deltas) + reader.finish().visible
    elapsed = time.perf_counter() - started
    assert shown == ANSWER, shown[:80]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"{'shape':<20} {'deltas':>7} {'p50 µs/reply':>13} {'p95 µs/reply':>13} {'µs/delta':>9}")
    for name, (deltas, known) in SHAPES.items():
        times = sorted(one_reply(deltas, known) for _ in range(args.repeat))
        p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
        print(f"{name:<20} {len(deltas):>7} {p50 * 1e6:>13.0f} {p95 * 1e6:>13.0f} {p50 * 1e6 / len(deltas):>9.2f}")


if __name__ == "__main__":
    main()
