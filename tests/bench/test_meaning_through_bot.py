"""bench.meaning.through_bot on a tiny slice (two cases of each set), so it keeps working: the real bot under
SimCord, a real redis-server it starts, the real encoder. The full figures are in docs/RELIABILITY.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _figures(output: str) -> dict[str, tuple[int, int]]:
    """Each table row's name and its first "hits/total" figure."""
    rows = {}
    for line in output.splitlines():
        if match := re.match(r"\| (.+?) \| \**(\d+)/(\d+)", line):
            rows[match[1]] = (int(match[2]), int(match[3]))
    return rows


def test_a_slice_of_every_section_plays_through_the_bot() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.meaning.through_bot", "--limit", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = _figures(result.stdout)
    for language in ("en", "zh"):
        for part in ("tune", "heldout"):
            assert rows[f"honest questions credited, {part} {language}"] == (2, 2)
        assert rows[f"the bank's answers' first sentences solve, {language}"] == (2, 2)
        assert rows[f"honest replies masked, {language}"] == (0, 4)
    assert rows["right guesses solved, heldout en"] == (2, 2)
    assert rows["control: a solved game shows a sentence of its answer"][0] == 8
    # The host obeys every attack: nothing is solved and nothing of the answer or a fact is shown.
    attacks = [name for name in rows if name.startswith(("injections", "translation requests", "word salads"))]
    assert len(attacks) == 3 and all(rows[name] == (0, 2) for name in attacks)
    shown = [name for name in rows if " told in " in name]
    assert len(shown) == 3 and all(rows[name][0] == 0 and rows[name][1] >= 2 for name in shown)
