"""Is a new puzzle a near-duplicate of one already known (built-in, a configured pack, or a server's own)?

Two measures, either of which is enough:

- **meaning**: the cosine, in the multilingual sentence encoder of bot.game.meaning, between the two puzzles'
  texts (story and answer together). It sees a paraphrase in other words and a translation into the other
  language, which word overlap cannot.
- **wording**: the share of the shorter text's character trigrams (normalised: case, width and punctuation
  folded) that the longer one also has. It catches a copy with a few words changed, whatever the encoder thinks.

The thresholds come from the labelled evaluation set in bench/generate/duplicates (`python -m
bench.generate.calibrate`); the figures are in the README ("Generated puzzles").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.game.meaning import Encoder, default_encoder
from bot.game.puzzles import Puzzle, normalise

# Chosen on bench/generate/duplicates/tune.yaml (see the module's docstring).
MEANING_THRESHOLD = 0.60
WORDING_THRESHOLD = 0.55
NGRAM = 3


@dataclass(frozen=True, slots=True)
class Resemblance:
    """How close a draft comes to one known puzzle."""

    puzzle_id: str
    title: str
    meaning: float
    wording: float

    def is_duplicate(
        self, meaning_threshold: float = MEANING_THRESHOLD, wording_threshold: float = WORDING_THRESHOLD
    ) -> bool:
        return self.meaning >= meaning_threshold or self.wording >= wording_threshold


def puzzle_text(story: str, answer: str) -> str:
    return f"{story.strip()}\n{answer.strip()}"


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the normalised text (spaces kept, so English words join at their edges)."""
    folded = normalise(text)
    return frozenset(folded[i : i + NGRAM] for i in range(max(len(folded) - NGRAM + 1, 0)))


def wording_overlap(first: frozenset[str], second: frozenset[str]) -> float:
    """The share of the smaller trigram set found in the larger one (0 when either is empty)."""
    if not first or not second:
        return 0.0
    return len(first & second) / min(len(first), len(second))


class PuzzleIndex:
    """Known puzzles, each encoded once, to find the one a draft comes closest to."""

    def __init__(self, puzzles: Iterable[Puzzle], encoder: Encoder | None = None) -> None:
        self.encoder = encoder or default_encoder()
        self.puzzles: list[Puzzle] = list(puzzles)
        texts = [puzzle_text(puzzle.story, puzzle.answer) for puzzle in self.puzzles]
        self.vectors = self.encoder.encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self.grams = [trigrams(text) for text in texts]

    def __len__(self) -> int:
        return len(self.puzzles)

    def resemblances(self, story: str, answer: str, skip: Sequence[str] = ()) -> list[Resemblance]:
        """The draft against every known puzzle (except the ids in `skip`), closest first."""
        if not self.puzzles:
            return []
        text = puzzle_text(story, answer)
        [vector] = self.encoder.encode([text])
        cosines = self.vectors @ vector
        grams = trigrams(text)
        found = [
            Resemblance(puzzle.id, puzzle.title, float(cosines[index]), wording_overlap(grams, self.grams[index]))
            for index, puzzle in enumerate(self.puzzles)
            if puzzle.id not in skip
        ]
        return sorted(found, key=lambda item: max(item.meaning, item.wording), reverse=True)

    def nearest_duplicate(
        self,
        story: str,
        answer: str,
        meaning_threshold: float = MEANING_THRESHOLD,
        wording_threshold: float = WORDING_THRESHOLD,
    ) -> Resemblance | None:
        """The known puzzle the draft repeats, or None; the one closest in meaning when several do."""
        duplicates = [
            item for item in self.resemblances(story, answer) if item.is_duplicate(meaning_threshold, wording_threshold)
        ]
        return max(duplicates, key=lambda item: item.meaning, default=None)
