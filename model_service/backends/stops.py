"""Cutting generated text at stop strings, across token boundaries."""

from __future__ import annotations


class StopMatcher:
    """Feed text as it is generated; get back what is safe to send and whether a stop string appeared.

    Text that could be the start of a stop string is held back until the next piece settles it,
    so a client never receives half of a stop string.
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [stop for stop in stops if stop]
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        buffer = self._held + text
        if not self.stops:
            self._held = ""
            return buffer, False
        cut = min((index for index in (buffer.find(stop) for stop in self.stops) if index >= 0), default=-1)
        if cut >= 0:
            self._held = ""
            return buffer[:cut], True
        keep = self._partial_suffix(buffer)
        self._held = buffer[len(buffer) - keep :]
        return buffer[: len(buffer) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    def _partial_suffix(self, buffer: str) -> int:
        """Length of the longest end of `buffer` that begins some stop string."""
        longest = min(max(len(stop) for stop in self.stops) - 1, len(buffer))
        for size in range(longest, 0, -1):
            tail = buffer[-size:]
            if any(stop.startswith(tail) for stop in self.stops):
                return size
        return 0
