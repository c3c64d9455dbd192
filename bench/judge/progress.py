"""A progress line on stderr: redrawn in place on a terminal, a line every tenth of the way otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 28


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = 0
        self.started = 0.0
        self._asked = 0
        self._last_tenth = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.started = total, done, time.monotonic()
        if done:
            self.stream.write(f"{done} of {total} answers come from the cache\n")
        self._draw("")

    def advance(self, note: str) -> None:
        self.done += 1
        self._asked += 1
        self._draw(note)

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, note: str) -> None:
        total = max(self.total, 1)
        tenth = self.done * 10 // total
        if not self._tty and tenth == self._last_tenth:
            return
        self._last_tenth = tenth
        filled = BAR_WIDTH * self.done // total
        elapsed = time.monotonic() - self.started
        rate = self._asked / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        line = (
            f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self.done}/{self.total} "
            f"{rate:.1f}/s eta {eta:.0f}s {note}".rstrip()
        )
        self.stream.write(f"\r{line}\x1b[K" if self._tty else line + "\n")
        self.stream.flush()
