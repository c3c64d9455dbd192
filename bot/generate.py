"""`python -m bot.generate`: the host model writes puzzles into a pack file, for review before anyone plays them.

    python -m bot.generate --config config.yaml --language zh --count 10 --difficulty hard --out drafts.yaml

Each kept puzzle is written to the pack as soon as it passes (an interrupted batch keeps what it had); an existing
pack is added to, and its puzzles count as known, like the bank's: a draft near any of them, or near one written
earlier in the batch, is refused. `--log` records every draft as JSON lines: what the model wrote and what the
checks made of it. A progress line on stderr follows the batch. Exit status: 0 when every puzzle asked for was
written, 1 when some were not (each one's reasons are printed), 2 for a bad config or pack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from bot.game.assembly import load_configured_bank
from bot.game.custom_puzzles import dump_pack, entry_of
from bot.game.generate import Attempt, GenerationFailed, PuzzleGenerator, writer_host
from bot.game.puzzles import DIFFICULTIES, LANGUAGES, Puzzle, PuzzleError, load_pack
from common.config import Config, ConfigError, load_config

BAR_WIDTH = 24


class BatchProgress:
    """One line on stderr, redrawn in place on a terminal (a line per draft otherwise): puzzles kept of those
    asked for, drafts tried and refused, and a time estimate."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.kept, self.drafts, self.refused = total, 0, 0, 0
        self.started = time.monotonic()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def draft(self, attempt: Attempt) -> None:
        self.drafts += 1
        if attempt.reason is None:
            self.kept += 1
        else:
            self.refused += 1
        self.draw()

    def draw(self) -> None:
        done = min(self.kept, self.total)
        filled = BAR_WIDTH * done // max(self.total, 1)
        elapsed = time.monotonic() - self.started
        per_puzzle = elapsed / self.kept if self.kept else 0.0
        eta = f" eta {per_puzzle * (self.total - done):.0f}s" if self.kept else ""
        line = (
            f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{self.total} puzzles, "
            f"{self.drafts} drafts ({self.refused} refused), {elapsed:.0f}s{eta}"
        )
        self.stream.write(f"\r{line}\x1b[K" if self._tty else line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
        self.stream.flush()


def write_pack(path: Path, puzzles: list[Puzzle]) -> None:
    """The pack written whole to a temporary file, then moved into place: never half a pack on disk."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(dump_pack([entry_of(puzzle) for puzzle in puzzles]), encoding="utf-8")
    partial.replace(path)


def existing_pack(path: Path) -> list[Puzzle]:
    return load_pack(path) if path.exists() else []


async def run(
    config: Config,
    out: Path,
    count: int,
    language: str,
    difficulty: str | None,
    theme: str | None,
    log: TextIO | None = None,
) -> tuple[int, list[GenerationFailed]]:
    """Generate `count` puzzles into `out`: how many were written, and why the others were not."""
    pack = await asyncio.to_thread(existing_pack, out)
    known = [*load_configured_bank(config).by_id.values(), *pack]

    async def everything_known() -> list[Puzzle]:
        return list(known)  # puzzles kept earlier in the batch join `known` as they pass

    host = writer_host(config)
    progress = BatchProgress(count)
    failures: list[GenerationFailed] = []
    written = 0
    generator = PuzzleGenerator(host, everything_known, config.generate.max_attempts)
    try:
        progress.draw()
        for number in range(1, count + 1):

            def record(attempt: Attempt, number: int = number) -> None:
                progress.draft(attempt)
                if log is not None:
                    entry = {"puzzle": number, "attempt": attempt.number, "refused": attempt.reason}
                    log.write(json.dumps({**entry, "reply": attempt.reply}, ensure_ascii=False) + "\n")
                    log.flush()

            try:
                made = await generator.generate(language, difficulty, theme, on_attempt=record)
            except GenerationFailed as failure:
                failures.append(failure)
                if failure.unavailable:
                    break  # the model is down: the rest would fail the same way
                continue
            pack.append(made.puzzle)
            known.append(made.puzzle)
            write_pack(out, pack)
            written += 1
    finally:
        progress.finish()
        await host.close()
    return written, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.generate", description="Have the host model write puzzles into a pack file for review."
    )
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    parser.add_argument("--out", required=True, type=Path, help="pack file to write (added to when it exists)")
    parser.add_argument("--count", type=int, default=1, help="how many puzzles to write (default: 1)")
    parser.add_argument("--language", choices=LANGUAGES, help="puzzle language (default: game.default_language)")
    parser.add_argument("--difficulty", choices=DIFFICULTIES, help="puzzle difficulty (default: the model's choice)")
    parser.add_argument("--theme", help="what the puzzles should be about")
    parser.add_argument("--log", type=Path, help="write every draft and its verdict here, as JSON lines")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    try:
        config = load_config(args.config)
        language = args.language or config.game.default_language
        log = args.log.open("a", encoding="utf-8") if args.log else None
        try:
            written, failures = asyncio.run(
                run(config, args.out, args.count, language, args.difficulty, args.theme, log)
            )
        finally:
            if log is not None:
                log.close()
    except (ConfigError, PuzzleError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{written} of {args.count} puzzle(s) written to {args.out}", file=sys.stderr)
    for failure in failures:
        print(f"not written: {failure}", file=sys.stderr)
    return 0 if written == args.count else 1


if __name__ == "__main__":
    raise SystemExit(main())
