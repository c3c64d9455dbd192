"""Key facts: the host's facts line, who found which fact, and the progress bar.

The host ends each reply with a line naming the key facts the message uncovered, numbered as in its
prompt: ``[facts: 1, 3]`` / ``[facts: none]`` (zh ``[要点：1、3]`` / ``[要点：无]``). The code reads it
tolerantly (other brackets, full-width punctuation, Chinese numerals, stray words), never shows it to
players, and keeps the found set itself: the host only says what one message uncovered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

FOUND_MARK, UNFOUND_MARK = "🟩", "⬜"
TAG_WORDS = {"en": "facts", "zh": "要点"}
NONE_WORDS = {"en": "none", "zh": "无"}

_OPEN = "[\\[【〔［]"
_CLOSE = "[\\]】〕］]"
_KEYWORD = r"(?:key[\s_-]*)?facts?|(?:关键)?要点|关键事实|关键点"
_HEAD = rf"[*_`]*{_OPEN}\s*\**(?:{_KEYWORD})\**\s*[:：=]?\s*"
_BODY = r"(?P<body>[^\]】〕］\n]*?)\s*"
# While streaming only a closed tag counts; at the end also one left unclosed, or a bare "facts: ..." line.
_CLOSED_TAG = re.compile(rf"{_HEAD}{_BODY}{_CLOSE}[*_`]*", re.IGNORECASE)
# A bare line counts only when it holds nothing but numbers and list words: "关键点：他很矮" is prose.
_LIST = r"(?:[\d一二三四五六七八九十]|[ \t]|[,，、;；/&+]|and|none|all|无|没有|全部)*"
_FINAL_TAG = re.compile(
    rf"{_HEAD}{_BODY}(?:{_CLOSE}[*_`]*|(?=\n)|$)"
    rf"|(?m:^[ \t]*\**(?:{_KEYWORD})\**[ \t]*[:：][ \t]*(?P<line>{_LIST})[ \t.。]*$)",
    re.IGNORECASE,
)
# What a tag may have started as, for hiding it while it streams in: "[", "[fa", "【要".
_OPENINGS = tuple(
    re.sub(r"\s", "", bracket + word)
    for bracket in "[【〔［"
    for word in ("facts", "fact", "keyfacts", "key facts", "要点", "关键要点", "关键事实", "关键点")
)
# A facts line without brackets, as a streaming reply may hold it before the end: "Key facts: 1, 3".
_BARE_LINE = re.compile(
    rf"(?m)^[ \t]*[*_`]*(?:{_KEYWORD})[*_`]*[ \t]*[:：][*_`]*[ \t]*{_LIST}[ \t.。]*(?:\n|$)", re.IGNORECASE
)
_BARE_WORDS = ("keyfacts", "facts", "fact", "要点", "关键要点", "关键事实", "关键点")
_SPACELESS_KEYWORD = r"(?:key)?facts?|(?:关键)?要点|关键事实|关键点"  # as the tail reads, its spaces taken out
_BARE_START = re.compile(rf"^(?:{_SPACELESS_KEYWORD})[:：]{_LIST}[.。]?$", re.IGNORECASE)
_NUMBER = re.compile(r"\d+|[一二三四五六七八九十]")
_ZH_NUMERALS = {char: value for value, char in enumerate("一二三四五六七八九十", start=1)}
_EVERYTHING = re.compile(r"\b(?:all|every)\b|全部|所有|都", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FoundFact:
    """Who found one key fact (``index`` is 0-based, as in ``Game.key_facts``)."""

    index: int
    by: int
    name: str
    at: float

    def encode(self) -> str:
        return json.dumps({"by": self.by, "name": self.name, "at": int(self.at)}, ensure_ascii=False)

    @classmethod
    def decode(cls, index: str, raw: str) -> FoundFact:
        data = json.loads(raw)
        return cls(int(index), int(data["by"]), str(data.get("name", "")), float(data.get("at", 0)))


def decode_found(raw: dict[str, str], count: int) -> dict[int, FoundFact]:
    """The stored found hash; entries that are unreadable or out of range are skipped, never raised."""
    found: dict[int, FoundFact] = {}
    for index, value in raw.items():
        try:
            fact = FoundFact.decode(index, value)
        except (ValueError, KeyError, TypeError):
            continue
        if 0 <= fact.index < count:
            found[fact.index] = fact
    return found


def parse_facts_line(text: str, count: int, final: bool = True) -> frozenset[int] | None:
    """The 0-based key facts a reply's facts line names; None when the reply has no facts line.

    While a reply still streams (``final=False``) only a closed bracketed tag counts: "[facts: 1"
    may yet become "[facts: 1, 3]". Numbers outside 1..count and words that are no number are
    ignored, so a malformed line names what it can; "all" names every fact, "none" names none.
    """
    if count <= 0:
        return None
    named: set[int] = set()
    seen = False
    for match in (_FINAL_TAG if final else _CLOSED_TAG).finditer(text):
        seen = True
        body = match.group("body") or (match.group("line") if final else None) or ""
        numbers = _NUMBER.findall(body)
        if _EVERYTHING.search(body) and not numbers:
            named.update(range(count))
        for number in numbers:
            if len(number.lstrip("0")) > len(str(count)):
                continue  # no fact has that many digits (and int() refuses runs past 4,300 of them)
            value = _ZH_NUMERALS.get(number) or int(number)
            if 1 <= value <= count:
                named.add(value - 1)
    return frozenset(named) if seen else None


def strip_facts_line(text: str, final: bool = True) -> str:
    """The reply as players see it: facts lines removed; while streaming, a tag still arriving is hidden too,
    and so is a facts line written without brackets ("Key facts: 1, 3"), whole or still arriving."""
    shown = (_FINAL_TAG if final else _CLOSED_TAG).sub("", text)
    if not final:
        shown = _hide_partial_tag(_hide_bare_lines(shown))
    return re.sub(r"[ \t]+\n", "\n", re.sub(r"(?<=\S) {2,}(?=\S)", " ", shown)).strip()


def _hide_bare_lines(text: str) -> str:
    """Remove unbracketed facts lines, and cut a last line that may yet become one ("Key fa", "要点：1")."""
    text = _BARE_LINE.sub("", text)
    start = text.rfind("\n") + 1
    if start == 0:
        return text  # the first line holds the verdict, never a facts line alone
    tail = re.sub(r"[\s*_`]", "", text[start:].lower())
    if tail and any(word.startswith(tail) or _BARE_START.match(tail) for word in _BARE_WORDS):
        return text[:start]
    return text


def _hide_partial_tag(text: str) -> str:
    """Cut a tag that has begun to arrive at the end of the text ("…\n[fac")."""
    start = max(text.rfind(bracket) for bracket in "[【〔［")
    if start < 0:
        return text
    tail = re.sub(r"[\s*_]", "", text[start:].lower())
    if any(opening.startswith(tail) or tail.startswith(opening) for opening in _OPENINGS):
        return text[:start]
    return text


def facts_line(indices: Iterable[int], language: str) -> str:
    """The line as the host is asked to write it (for the prompt's example and the history it is shown)."""
    numbers = sorted(index + 1 for index in indices)
    word = TAG_WORDS.get(language, TAG_WORDS["en"])
    if language == "zh":
        return f"[{word}：{'、'.join(map(str, numbers)) or NONE_WORDS['zh']}]"
    return f"[{word}: {', '.join(map(str, numbers)) or NONE_WORDS['en']}]"


def progress_bar(found: int, total: int) -> str:
    """``🟩🟩⬜⬜ 2/4``; empty for a puzzle without key facts."""
    if total <= 0:
        return ""
    found = max(0, min(found, total))
    return f"{FOUND_MARK * found}{UNFOUND_MARK * (total - found)} {found}/{total}"
