"""Reading the host's verdict label from the opening of a language-model reply.

The host is told to begin every reply with exactly one label (en ``Yes``/``No``/``Irrelevant``/``Correct``,
zh ``是``/``否``/``无关``/``正确``), but models decorate it with markdown, punctuation, prefixes and synonyms.
Only the opening is read: the explanation that follows may say anything.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from functools import lru_cache


class Verdict(enum.StrEnum):
    YES = "yes"
    NO = "no"
    IRRELEVANT = "irrelevant"
    CORRECT = "correct"
    UNCLEAR = "unclear"


LABELS: dict[str, dict[Verdict, str]] = {
    "en": {
        Verdict.YES: "Yes",
        Verdict.NO: "No",
        Verdict.IRRELEVANT: "Irrelevant",
        Verdict.CORRECT: "Correct",
        Verdict.UNCLEAR: "Unclear",
    },
    "zh": {
        Verdict.YES: "是",
        Verdict.NO: "否",
        Verdict.IRRELEVANT: "无关",
        Verdict.CORRECT: "正确",
        Verdict.UNCLEAR: "不明确",
    },
}
DEFAULT_LANGUAGE = "en"

# The label is at the very start; looking further only costs time and invites false matches.
OPENING_CHARS = 80
# Bound the "strip decoration, strip a prefix" loop so hostile input cannot make it spin.
MAX_PREAMBLE_ROUNDS = 4
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad")
# NFKC leaves curly apostrophes alone; "that’s" must read like "that's".
APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
# What may sit between the label and the explanation; opening brackets and quotes belong to the explanation.
REST_SEPARATORS = frozenset(" \t\r\n.,!?;:~*_`>|-–—…。，、！？；：）)]】」』》〉”’\"'")

# "Verdict:", "**Answer**:", "回答：" ... in front of the label. NFKC has already turned "：" into ":".
PREFIX_RE = re.compile(
    r"(?:verdict|answer|reply|response|host|judgement|judgment|ruling|result|a|判定|判断|结果|回答|回复|答案|答|主持人)"
    r"[\s*_]*[:\-–—]"
)

# A Latin label must end at a word boundary ("Yesterday" is not "Yes"); "_" counts as a boundary for __Yes__.
END = r"(?![^\W_])"
# Followed by punctuation or the end: "Yes and no." is ambiguous, "Yes and no one saw him" is a yes.
STOPS = r"(?=\s*(?:[^\w\s]|_|$))"
SUBJECT = r"(?:(?:that|it|this|you)(?:'s|'re|\s+is|\s+are)|thats|its|youre)\s+"
PRONOUN = r"(?:it|he|she|they|there)\s+"

UNCLEAR_RULES = (
    rf"ye(?:s|ah|p)\s*,?\s*(?:and|or|but\s+also|&|/)\s*no(?:pe)?{STOPS}",
    rf"no\s*,?\s*(?:and|or|but\s+also|&|/)\s*yes{STOPS}",
    r"both\s+yes\s+and\s+no",
    # Chinese "是，也不是" / "对，又不对"; the unseparated "是也不是" already fails the single-character boundary.
    r"(?:是|对)[\s,、]*(?:但|却|可)?(?:也|又)(?:不是|不对|否)",
)

IRRELEVANT_RULES = (
    rf"(?:{SUBJECT})?(?:(?:totally|completely|entirely|largely|mostly|quite|rather|pretty\s+much)\s+)?irrelevant{END}",
    rf"(?:{SUBJECT})?not\s+(?:really\s+|very\s+|particularly\s+|that\s+|at\s+all\s+)?"
    rf"(?:relevant|important|related|applicable|significant){END}",
    rf"(?:{SUBJECT})?(?:unimportant|unrelated|immaterial|n/a){END}",
    rf"(?:{SUBJECT})?(?:of\s+)?no\s+(?:relevance|bearing|connection|relation|importance|consequence){END}",
    rf"(?:(?:it|that|this)\s+)?(?:doesn'?t|does\s+not)\s+(?:really\s+)?(?:matter|apply){END}",
    rf"(?:it|that|this)\s+(?:isn'?t|is\s+not)\s+(?:really\s+)?(?:relevant|important|related){END}",
    r"无关|无所谓|关系不大|不(?:太|怎么)?(?:重要|相关)|不影响",
    r"(?:这|那)(?:个|点|一点)?(?:并|其实)?(?:不(?:太)?重要|不相关|无关|没(?:有|什么)?关系)",
    r"(?:并|其实)(?:不(?:太)?重要|不相关|无关)",
    r"没(?:有|什么|啥)?(?:关系|关联|影响)",
    # "与此无关", "和天气无关", "跟他的工作没关系" within one clause.
    r"(?:这|此)?(?:与|和|跟|同)[^\s,.!?;:。、]{0,12}?(?:无关|没(?:有|什么)?关系)",
)

CORRECT_RULES = (
    rf"(?:{SUBJECT})?(?:(?:absolutely|exactly|completely|totally|entirely|perfectly|quite)\s+)?correct{END}",
    rf"(?:you(?:'ve|\s+have)?\s+)?got\s+it{END}",
    rf"you(?:'ve|\s+have)?\s+(?:solved|cracked|figured\s+out|nailed)(?:\s+it)?{END}",
    rf"(?:solved|congratulations|congrats|bingo|spot\s+on|well\s+done|you\s+win|that'?s\s+it){END}",
    r"(?:回答|完全|非常|十分)?正确(?!答案|吗)",
    r"(?:你|恭喜你?)?(?:答|猜)对了",
    r"恭喜|真相大白",
)

NO_RULES = (
    # Before YES_RULES: "Absolutely not" and "当然不是" open with a word that alone would mean yes.
    rf"(?:absolutely|definitely|certainly|surely|indeed|of\s+course)\s+not{END}",
    r"(?:当然|肯定|绝对|确实|的确)(?:不|没|并非)",
    rf"no+(?:pe)?{END}",
    rf"(?:nah|nay|negative|incorrect|wrong|false|untrue){END}",
    rf"not\s+(?:really|quite|exactly|at\s+all|true|correct|right|so|likely|the\s+case){END}",
    rf"{SUBJECT}(?:not\s+(?:quite\s+|really\s+|entirely\s+)?(?:correct|right|true|the\s+case|it)|incorrect|wrong|false"
    rf"|untrue){END}",
    rf"{PRONOUN}(?:isn'?t|wasn'?t|didn'?t|doesn'?t|weren'?t|aren'?t|hadn'?t|hasn'?t){STOPS}",
    rf"not{STOPS}",
    r"否(?![^\W_])",
    # 不 only with the continuations that mean "no": "不过" (however), "不一定" (not necessarily) are not verdicts.
    r"不(?:是|对|正确|准确|会|能|可能|在|算|太对|存在|(?![^\W_]))",
    r"并(?:不是|没有|没|非|不)|非也",
    r"没有(?!错)|没(?![^\W_])",
    r"错(?:误|了|(?![^\W_]))",
)

YES_RULES = (
    rf"(?:ye+s+|yeah+|yea|yep+|yup+|yah|aye|yes+ir){END}",
    rf"{SUBJECT}(?:(?:absolutely|quite|exactly)\s+)?(?:right|true|the\s+case){END}",
    rf"(?:right|true|indeed|absolutely|affirmative|definitely|certainly|exactly|sure|of\s+course){END}",
    rf"{PRONOUN}(?:is|was|did|does|were|are|had|has){STOPS}",
    r"是(?:[的啊呀滴哒嗯呢哦喔]|这样|(?![^\W_]))",
    r"对(?:[的啊呀了哦喔]|(?![^\W_]))",
    r"没(?:有)?错|正是|确实|的确|当然|嗯+(?![^\W_])|(?:有|会|能)(?![^\W_])",
)

# Order matters where openings share a prefix: "not relevant" before "not", "no relevance" before "no".
RULES: tuple[tuple[re.Pattern[str], Verdict], ...] = tuple(
    (re.compile(pattern), verdict)
    for group, verdict in (
        (UNCLEAR_RULES, Verdict.UNCLEAR),
        (IRRELEVANT_RULES, Verdict.IRRELEVANT),
        (CORRECT_RULES, Verdict.CORRECT),
        (NO_RULES, Verdict.NO),
        (YES_RULES, Verdict.YES),
    )
    for pattern in group
)


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    return unicodedata.normalize("NFKC", char).lower().translate(APOSTROPHES)


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC + lowercase the opening, character by character, keeping where each output char came from."""
    skipped = len(text) - len(text.lstrip())  # blank lines before the label do not use up the window
    opening = text[skipped : skipped + OPENING_CHARS]
    if opening.isascii():
        # The common case, and NFKC leaves ASCII alone: skip the per-character work.
        return opening.lower(), list(range(skipped, skipped + len(opening)))
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(opening, start=skipped):
        if char in ZERO_WIDTH:
            continue
        piece = _fold(char)
        chars.append(piece)
        origin.extend([index] * len(piece))
    return "".join(chars), origin


def _skip_decoration(norm: str, pos: int) -> int:
    """Skip markdown, quotes, brackets, emoji and whitespace: anything that is not a letter or digit."""
    while pos < len(norm) and not norm[pos].isalnum():
        pos += 1
    return pos


def _skip_preamble(norm: str) -> int:
    pos = _skip_decoration(norm, 0)
    for _ in range(MAX_PREAMBLE_ROUNDS):
        prefix = PREFIX_RE.match(norm, pos)
        if prefix is None:
            break
        pos = _skip_decoration(norm, prefix.end())
    return pos


def _match(norm: str) -> tuple[Verdict, int] | None:
    """The verdict and the end of its label in ``norm``, or None when the opening is no known label."""
    pos = _skip_preamble(norm)
    for pattern, verdict in RULES:
        found = pattern.match(norm, pos)
        if found is not None:
            return verdict, found.end()
    return None


def parse_verdict(text: str) -> Verdict:
    """The verdict a reply opens with; UNCLEAR when the opening is not a recognisable label."""
    matched = _match(_normalise(text)[0])
    return Verdict.UNCLEAR if matched is None else matched[0]


def split_verdict(text: str) -> tuple[Verdict, str]:
    """The verdict and the explanation after the label and its punctuation; UNCLEAR keeps the whole text."""
    norm, origin = _normalise(text)
    matched = _match(norm)
    if matched is None or matched[0] is Verdict.UNCLEAR:
        return Verdict.UNCLEAR, text.strip()
    verdict, end = matched
    start = origin[end] if end < len(origin) else origin[-1] + 1
    while start < len(text) and (text[start] in REST_SEPARATORS or text[start].isspace() or text[start] in ZERO_WIDTH):
        start += 1
    return verdict, text[start:].strip()


def label(verdict: Verdict, language: str) -> str:
    """The label text for ``verdict``; "zh-CN"/"zh_TW" read as "zh", unknown languages fall back to English."""
    base = language.lower().replace("_", "-").split("-")[0]
    return LABELS.get(base, LABELS[DEFAULT_LANGUAGE])[verdict]
