"""Chinese secret bigrams found when a reply writes them in pinyin ("ta shi yi ge mang ren", "máng rén",
"mang2ren2", "MANGREN").

A bigram's characters are read as toneless syllables (every reading a character has, so a host choosing another
reading of a heteronym is still seen); a reply's letters are split into syllables and each pair of neighbouring
syllables is looked up. Toneless pinyin is ambiguous (many words share "shi shi"), so only the secret's own
distinctive bigrams are looked for, and the leak rules of bot/game/leak.py decide what is enough.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import product

from pypinyin import Style, pinyin
from pypinyin.constants import PINYIN_DICT

# Letters only: tone digits, apostrophes ("xi'an"), hyphens, spaces and punctuation all split syllables apart.
LETTERS_RE = re.compile(r"[a-z]+")
# The longest syllables ("zhuang", "shuang") have six letters.
MAX_SYLLABLE = 6
# Consonant-only interjections ("m", "ng", "hm") would let any English word with an "n" or "m" split into pinyin.
VOWELS = frozenset("aeiouv")


def _toneless(reading: str) -> str:
    """ "lǜ" / "lv" / "lü" -> "lu": tone marks and the umlaut go (NFKD), and "v" (ü typed on a keyboard) is "u"."""
    decomposed = unicodedata.normalize("NFKD", reading.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).replace("v", "u")


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every toneless syllable pypinyin knows a character for (about 410)."""
    readings = (_toneless(reading) for value in PINYIN_DICT.values() for reading in value.split(","))
    return frozenset(reading for reading in readings if reading.isalpha() and VOWELS & set(reading))


@lru_cache(maxsize=16384)
def split_word(letters: str) -> tuple[str, ...] | None:
    """``letters`` cut into the fewest valid syllables ("mangren" -> ("mang", "ren")), or None if they are not
    pinyin (most English words)."""
    known = syllables()
    # best[i]: the fewest syllables that spell letters[:i]; back[i]: where the last of them starts.
    best: list[int | None] = [0] + [None] * len(letters)
    back = [0] * (len(letters) + 1)
    for end in range(1, len(letters) + 1):
        for start in range(max(0, end - MAX_SYLLABLE), end):
            before = best[start]
            if before is not None and letters[start:end] in known and (best[end] is None or before + 1 < best[end]):
                best[end], back[end] = before + 1, start
    if best[-1] is None:
        return None
    cut: list[str] = []
    end = len(letters)
    while end:
        cut.append(letters[back[end] : end])
        end = back[end]
    return tuple(reversed(cut))


@lru_cache(maxsize=256)
def syllable_pairs(norm: str) -> tuple[tuple[int, str], ...]:
    """Each pair of neighbouring pinyin syllables in ``norm`` (lower-cased text) as (position, "mang ren").
    A word that is not pinyin breaks the chain, so a pair never straddles English."""
    text = _toneless(norm)
    pairs: list[tuple[int, str]] = []
    position = 0
    previous: str | None = None
    for word in LETTERS_RE.findall(text):
        cut = split_word(word)
        if cut is None:
            previous = None
            position += 2  # a gap: runs of hits on either side are separate phrases
            continue
        for syllable in cut:
            if previous is not None:
                pairs.append((position, f"{previous} {syllable}"))
            previous = syllable
            position += 1
    return tuple(pairs)


def readings(run: str, heteronym: bool = False) -> list[list[str]]:
    """Toneless readings of each character of ``run`` (a run of Chinese characters), the reading in context
    first; "?" for a character pypinyin does not know."""
    found = pinyin(run, style=Style.NORMAL, heteronym=heteronym, errors=lambda chars: [["?"]] * len(chars))
    if len(found) != len(run):  # never seen, but one reading per character is what callers index by
        found = [pinyin(char, style=Style.NORMAL, heteronym=heteronym)[0] for char in run]
    return [[_toneless(reading) for reading in options] for options in found]


@lru_cache(maxsize=256)
def syllable_text(norm: str) -> str:
    """``norm``'s pinyin syllables spaced out, " | " where a word that is not pinyin stands: quotes are
    looked for in it as " mang ren shi ... "."""
    text = _toneless(norm)
    parts: list[str] = [""]
    for word in LETTERS_RE.findall(text):
        cut = split_word(word)
        parts.extend(cut if cut is not None else ("|",))
    parts.append("")
    return " ".join(parts)


class PinyinBigrams:
    """Some Chinese bigrams of a text (the answer's or a key fact's distinctive ones), findable in pinyin."""

    def __init__(self, text: str, bigrams: Iterable[str]) -> None:
        wanted = frozenset(bigrams)
        self.by_pair: dict[str, set[str]] = {}
        if not wanted:
            return
        # Read the bigrams in the text they come from, so pypinyin's phrase readings apply; every other reading
        # of each character is added too.
        for run in re.findall("[\u3400-\u4dbf\u4e00-\u9fff]+", text):
            heard = readings(run, heteronym=True)
            for index in range(len(run) - 1):
                bigram = run[index : index + 2]
                if bigram not in wanted:
                    continue
                for first, second in product(heard[index], heard[index + 1]):
                    self.by_pair.setdefault(f"{first} {second}", set()).add(bigram)

    def hits(self, norm: str) -> list[tuple[int, str]]:
        """(position, bigram) for every bigram whose pinyin ``norm`` writes; homophones share a position."""
        if not self.by_pair:
            return []
        return [
            (position, bigram)
            for position, pair in syllable_pairs(norm)
            for bigram in sorted(self.by_pair.get(pair, ()))
        ]

    def named(self, norm: str) -> frozenset[str]:
        return frozenset(bigram for _, bigram in self.hits(norm))
