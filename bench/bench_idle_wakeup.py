"""What idling does to the next piece of work on this machine: the same small piece of Python (a few hundred
microseconds of dict and JSON work, like a reply's store and edit) timed right after sleeping 0 ms to 1 s.

A streamed reply's last chunk comes after the bot has idled between chunks (160 ms in a 10-second stream), so
everything it does then (judge, store, edit) runs on a CPU whose caches and clocks idled with it; an answer that
comes at once runs on a warm one. This separates that machine effect from the bot's own work.

    .venv/bin/python -m bench.bench_idle_wakeup [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import time

from bench.harness import percentile

GAPS = (0.0, 0.001, 0.01, 0.05, 0.16, 1.0)


def work() -> int:
    encoded = {str(index): json.dumps({"q": index, "facts": [index, index + 1]}) for index in range(150)}
    return len(encoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    warm: float | None = None
    print("idle before   the same work, p50 / min / max (ms)   vs no idle")
    for gap in GAPS:
        times = []
        for _ in range(args.repeat):
            time.sleep(gap)
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        p50 = percentile(times, 0.5)
        warm = warm or p50
        print(
            f"{gap * 1000:8.0f} ms   {p50 * 1000:8.3f} / {min(times) * 1000:.3f} / {max(times) * 1000:.3f}"
            f"          {p50 / warm:5.2f}x"
        )


if __name__ == "__main__":
    main()
