"""A guard that spots host replies giving away the hidden answer of an unsolved puzzle.

The secret is approximated by the answer's *distinctive terms*: content words (English stems) or character
bigrams (Chinese) that the answer uses and the story, which players can already read, does not. A reply leaks
when it carries enough of those terms that the players have not written themselves, when it quotes a run
of the answer verbatim, or when it states one of the puzzle's key facts (all of that fact's own terms).
Obfuscation (spaced out, dotted, zero-width, full-width, reversed) is undone first.

A false alarm is cheap (the session shows only the verdict label), a miss spoils the puzzle; the thresholds
below lean that way while keeping ordinary replies, even ones that echo the player's own guess, intact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain

from bot.game.pinyin_guard import PinyinBigrams, readings, syllable_text

# English: a reply leaks with EN_MIN_HITS distinct secret terms, or with at least EN_FLOOR terms that make up
# EN_MIN_RATIO of a short answer's terms ("hiccups" + "scared" out of four terms already tells the story).
EN_MIN_HITS = 3
EN_MIN_RATIO = 0.4
EN_FLOOR = 2
# Quoting must trip early, because every streamed edit is shown to the players:
# - a run of EN_QUOTE_WORDS answer words with a secret term in it, once the reply holds EN_QUOTE_MIN_SECRETS;
# - a run of EN_LONG_QUOTE_WORDS answer words absent from the story, unless the players wrote its content words.
EN_QUOTE_WORDS = 6
EN_QUOTE_MIN_SECRETS = 2
EN_LONG_QUOTE_WORDS = 7
# - a run of answer words at least EN_SHORT_QUOTE_LETTERS letters long ("was shipwrecked", "luxury ocean liner") that
#   holds a secret term the players have not written.
# The short and the long quotes are also matched on the reply's letters alone, forwards and backwards, so spacing,
# dots, line breaks, zero-width characters or reversing the text cannot hide them.
EN_SHORT_QUOTE_LETTERS = 12
# Three letters, not four: "gun", "ice", "sky" are often the key; the stopword list takes the grammar out.
EN_MIN_WORD_LEN = 3
# De-spaced and reversed text is matched by substring; short terms would hit across word boundaries.
SUBSTRING_MIN_LEN = 5

# Chinese is counted in *phrases*: maximal runs of secret bigrams in the reply, so "无法承受" (three bigrams,
# one idea) counts once. Leak at ZH_MIN_PHRASES distinct phrases, or when at least ZH_FLOOR phrases cover
# ZH_MIN_RATIO of the answer's secret bigrams (short answers).
ZH_MIN_PHRASES = 3
# A phrase that is a single bigram holding a function character ("又瞎", "好几") may just straddle two words.
ZH_WEAK_PHRASE_WEIGHT = 0.5
ZH_MIN_RATIO = 0.3
ZH_FLOOR = 2
# A run of this many answer characters copied verbatim (absent from the story) is quoting the answer.
ZH_QUOTE_CHARS = 8
ZH_QUOTE_MIN_WEAK = 3
# A run this long copied verbatim (absent from the story) quotes the answer even when its words are all common or
# the story's ("以为他是从对岸过来的"), unless the players wrote it themselves.
ZH_LONG_QUOTE_CHARS = 12

# Key facts are short sentences of the answer in other words ("He is a barber."): a reply states one when it
# names every distinctive English term of it, or FACT_ZH_SHARE of its Chinese bigrams, with at least one the
# players have not written. One word can be a whole fact, below every threshold above.
FACT_ZH_SHARE = 0.6
# Everyday short words ("fly", "date", "play") turn up in harmless replies: a fact whose one term is such a
# word is left to the answer's own checks; in Chinese, one bigram alone ("是湿") may straddle two words.
FACT_ONE_WORD_MIN_LETTERS = 5
FACT_ZH_MIN_BIGRAMS = 2
# A fact read out whole in pinyin states it, whatever its bigrams: the meaning guard sees the characters but not
# their sound ("ta de che di xia shi shi de"). Six syllables in a row are no accident.
FACT_PINYIN_MIN_SYLLABLES = 6

# Zero-width and formatting characters, soft hyphens, variation selectors and combining marks (strike-through
# "h̶i̶" and friends): invisible in Discord, so they can split a word without the reader noticing.
INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufe00-\ufe0f\ufeff\u0300-\u036f\u20d0-\u20ff]"
)
# NFKC is slow on Chinese text (~0.2 us a character); folding the usual full-width forms first leaves most
# replies already normalised, which ``unicodedata.is_normalized`` confirms almost for free.
FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: " ", 0x2026: "..."}
WORD_RE = re.compile(r"[a-z]+")
NON_LETTER_RE = re.compile(r"[^a-z]+")
NUMBER_RE = re.compile(r"[0-9]+")
CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ffff"
CJK_RUN_RE = re.compile(f"[{CJK_CLASS}]+")
NON_CJK_RE = re.compile(f"[^{CJK_CLASS}]+")

# Grammar, everyday verbs and the host's own vocabulary: words any reply may use without giving anything away.
EN_STOPWORDS = frozenset(
    """
    about above across after again against almost alone along already also although always among another any
    anybody anyone anything anyway anywhere around away back because become became becomes been before behind
    being below beside besides between beyond both came cannot could couldn didn does doesn doing done down during
    each either else enough even ever every everybody everyone everything everywhere from further gave get gets
    getting give given gives goes going gone good great hadn hasn have haven having hence here hers herself
    himself however into isn itself just keep kept know knew known later least less like likely made make makes
    many maybe might mine more most mostly much must myself near nearly need needs neither never next none nobody
    nothing now nowhere often once only onto other others otherwise ours ourselves over perhaps please quite
    rather really said same says seem seemed seems several shall should since some somebody someone something
    sometimes somewhere soon still such sure take taken takes than that their theirs them themselves then there
    therefore these they thing things think this those though thought through thus together took toward towards
    under unless until upon used very want wanted wants wasn well went were weren what whatever when whenever
    where whether which while whom whose will with within without would wouldn your yours yourself yourselves
    longer anymore actually indeed simply certain certainly probably possibly person people time times year years
    first last little long whole real different same own early late come comes coming look looked looking find
    finds found call called tell tells told leave leaves left live lives lived living turn turned open opened
    show showed shown feel felt mean meant start started began begin hold held stand stood happen happened
    happens yes answer question questions story puzzle relevant irrelevant correct incorrect right wrong true
    false important unimportant matter matters detail details hint hints clue clues guess guesses close closer
    focus consider reason reasons player players host part
    the and for are but not you all can had her was one our out day has him his how man men new now old see two
    way who boy did its let put say she too use yet off why ago far few got lot may run set sat saw big bad end ask
    try per via etc lay led met ran won top bit due
    """.split()  # noqa: SIM905 - a word list reads better as text
)

# Bigrams built only from these characters are grammar ("他们", "一个", "就是"), never a secret.
ZH_FUNCTION_CHARS = frozenset(
    "他她它我你们这那是在有和与就也都不没把被给对说会要一个上下里去来到又还很让用为因所以而但如果时后前其此之于并且或才再只已经从向跟同等及得自己着过刚却便更最太好"
)
# A bigram with a particle in it straddles two words ("的肉", "死了"), so it says nothing on its own.
ZH_PARTICLES = frozenset("的了吗呢吧啊呀嘛哦么")
# "这间", "一座", "每周", "几个": a determiner or number before a measure word or time unit.
ZH_DETERMINERS = frozenset("这那哪每某各一两二三四五六七八九十几半整")
ZH_MEASURES = frozenset("个间位种张件次天年月周日号条只把场座台辆块本句段名家双对片层栋所门首匹头口回遍下趟份群批些点")
# Everyday words a host may use in any reply, plus the host's own vocabulary.
ZH_COMMON_BIGRAMS = frozenset(
    """
    一个 一些 一下 一点 一起 一样 一直 一定 一次 一种 一天 他们 她们 我们 你们 它们 咱们 因为 所以 自己 没有 什么
    这个 那个 这些 那些 这样 那样 这里 那里 这种 那种 时候 已经 就是 但是 不是 可以 知道 如果 虽然 然后 还是 或者
    而且 然而 于是 只是 只有 还有 也是 都是 这是 那是 不会 不能 可能 应该 需要 觉得 认为 发现 看到 听到 看见 感觉
    出来 起来 下来 上去 过来 回来 进去 出去 开始 最后 后来 之后 以后 之前 以前 当时 现在 其实 真的 确实 非常 特别
    很多 许多 所有 全部 完全 不同 东西 事情 问题 原因 答案 故事 真相 关系 有关 无关 怎么 怎样 如何 为了 因此 由于
    通过 进行 发生 出现 成为 变成 以为 原来 本来 突然 终于 马上 立刻 仍然 总是 经常 有时 有点 有些 一般 大家 别人
    人们 明白 真正 告诉 希望 想要 喜欢 决定 继续 结束 提示 线索 思考 想想 注意 方向 重要 关键 细节 谜底 汤底 汤面
    正确 回答 玩家 猜测 尝试 接近 相关 影响 方面 部分 意思 可是 不过 而是 并不 并没 曾经 正在 也许 或许 情况 地方
    时间 今天 昨天 明天 后面 前面 里面 外面 上面 下面 为何 是否 能够 这么 那么 多么 一切 任何 第一 无法 说明 意识
    世界 周围 当然 其他 其中 所谓 一边 同时 最近 后悔 害怕 担心 生活 工作 回家 离开 准备 打算 只好 只能 不得 得到
    """.split()  # noqa: SIM905
)


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    """A crude stem so "hiccups"/"hiccuped" and "scare"/"scared" meet; it only has to be consistent."""
    if len(word) >= 6 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) >= 5 and word.endswith(("ied", "ies")):
        word = word[:-3] + "y"
    elif len(word) == 4 and word.endswith("ied"):
        word = word[:-1]  # "died" -> "die"
    elif len(word) >= 5 and word.endswith(("ed", "ches", "shes", "sses", "xes", "zes")):
        word = word[:-2]
    elif len(word) >= 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # "stopped" -> "stopp" -> "stop"
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]  # "cure"/"cured" -> "cur"
    return word


def _normalise(text: str) -> str:
    """NFKC (full-width letters become ASCII), lowercase, invisible characters removed."""
    if text.isascii():
        return text.lower()
    text = text.translate(FULL_WIDTH)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return INVISIBLE_RE.sub("", text).lower()


def _stems(norm: str) -> list[str]:
    return [_stem(word) for word in WORD_RE.findall(norm)]


# Words for talking to the host rather than about the story: never evidence of a guess.
HOST_TALK = frozenset(
    _stem(word)
    for word in """
    answer answers question game games play playing player rule rules instruction instructions prompt system
    print reveal hidden secret solution full free add write poem line lines spell letter letters word words
    count quote translate summary summarise sentence code block field json assistant pretend notice agree whisper
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def _is_content_word(word: str, stem: str) -> bool:
    return len(word) >= EN_MIN_WORD_LEN and word not in EN_STOPWORDS and stem not in EN_STOPWORDS


def _cjk_only(norm: str) -> str:
    """Chinese characters with everything between them dropped, so "海 难" and "海-难" read as "海难"."""
    return NON_CJK_RE.sub("", norm)


def _bigrams(cjk: str) -> set[str]:
    return {cjk[i : i + 2] for i in range(len(cjk) - 1)}


def _is_common_bigram(bigram: str) -> bool:
    return (
        bigram in ZH_COMMON_BIGRAMS
        or any(char in ZH_PARTICLES for char in bigram)
        or all(char in ZH_FUNCTION_CHARS for char in bigram)
        or (bigram[0] in ZH_DETERMINERS and bigram[1] in ZH_MEASURES)
    )


def _is_strong(bigram: str) -> bool:
    return not any(char in ZH_FUNCTION_CHARS for char in bigram)


def _is_telling(bigrams: frozenset[str]) -> bool:
    """Whether a quote's secret bigrams say something: one strong, or enough weak ones not to be chance."""
    return len(bigrams) >= ZH_QUOTE_MIN_WEAK or any(_is_strong(bigram) for bigram in bigrams)


def _enough(hits: float, covered: int, total: int, min_hits: int, min_ratio: float, floor: int) -> bool:
    """Many hits, or a large share of a short answer's terms; never a single hit unless that is all there is."""
    if hits == 0:
        return False
    return hits >= min_hits or (hits >= min(floor, total) and covered >= min_ratio * total)


class _EnglishSecret:
    """The answer's distinctive English stems and word runs."""

    def __init__(self, story_norm: str, answer_norm: str) -> None:
        self.story_stems = frozenset(_stems(story_norm))
        answer_words = WORD_RE.findall(answer_norm)
        spellings: dict[str, set[str]] = {}
        for word in answer_words:
            stem = _stem(word)
            if _is_content_word(word, stem) and stem not in self.story_stems:
                spellings.setdefault(stem, {stem}).add(word)
        self.terms = frozenset(spellings)
        # Only spellings long enough not to turn up by chance across word boundaries once spaces are gone.
        self.spellings = tuple(
            (stem, forms)
            for stem, forms in (
                (s, tuple(f for f in sorted(fs) if len(f) >= SUBSTRING_MIN_LEN)) for s, fs in spellings.items()
            )
            if forms
        )
        story_words = WORD_RE.findall(story_norm)
        self.runs = _answer_runs(story_words, answer_words, EN_QUOTE_WORDS)
        self.long_runs = _answer_runs(story_words, answer_words, EN_LONG_QUOTE_WORDS)
        story_letters = "".join(story_words)
        # The same quotes as letters, for replies with their spaces taken out (or reversed): run letters -> terms.
        self.letter_runs = _short_letter_runs(answer_words, self.terms, story_letters)
        self.letter_long_runs = _letter_runs(story_words, answer_words, EN_LONG_QUOTE_WORDS)
        self.live_letter_runs: tuple[str, ...] = (*self.letter_runs, *self.letter_long_runs)
        self.known: frozenset[str] = frozenset()
        self.player: frozenset[str] = frozenset()

    def set_known(self, known_norm: str) -> None:
        self.known = frozenset(_stems(known_norm))
        # Callers may put the story into ``known``; only what the players added themselves frees a quoted run.
        self.player = self.known - self.story_stems
        # A short quote is free once the players wrote its secret terms, a long one once they wrote its content.
        self.live_letter_runs = (
            *(run for run, terms in self.letter_runs.items() if terms - self.known),
            *(run for run, content in self.letter_long_runs.items() if content - self.player),
        )

    def leaks(self, norm: str) -> bool:
        stems = _stems(norm)
        if _quoted(stems, self.long_runs, EN_LONG_QUOTE_WORDS) - self.player:
            return True
        letters = NON_LETTER_RE.sub("", norm)
        if self._letters_quoted(letters):
            return True
        if not self.terms:
            return False
        forward = (set(stems) & self.terms) - self.known
        if len(forward) >= EN_QUOTE_MIN_SECRETS and (_quoted(stems, self.runs, EN_QUOTE_WORDS) & forward):
            return True
        forward_spelled, backward_spelled = self._spelled(letters)
        total = len(self.terms)
        return any(
            _enough(len(hits), len(hits), total, EN_MIN_HITS, EN_MIN_RATIO, EN_FLOOR)
            for hits in (forward | forward_spelled, backward_spelled)
        )

    def _letters_quoted(self, letters: str) -> bool:
        """Whether the reply's letters, read forwards or backwards, quote a run of the answer that gives it away."""
        backwards = letters[::-1]
        return any(run in letters or run in backwards for run in self.live_letter_runs)

    def _spelled(self, letters: str) -> tuple[set[str], set[str]]:
        """Secret terms found inside the de-spaced letters, read forwards and backwards."""
        backwards = letters[::-1]
        forward: set[str] = set()
        backward: set[str] = set()
        for term, forms in self.spellings:
            if term in self.known:
                continue
            if any(form in letters for form in forms):
                forward.add(term)
            if any(form in backwards for form in forms):
                backward.add(term)
        return forward, backward


class _ChineseSecret:
    """The answer's distinctive Chinese bigrams and character runs.

    Without word segmentation many bigrams straddle two words ("到自" in "知道自己"). Those usually hold a
    function character, so quotes need a *strong* bigram (one without any) or several weak ones, and a lone
    weak bigram counts half a phrase.
    """

    def __init__(self, story_norm: str, answer_norm: str) -> None:
        story_cjk = _cjk_only(story_norm)
        story_bigrams = _bigrams(story_cjk)
        terms = _secret_bigrams(answer_norm, story_bigrams)
        quotes: dict[str, frozenset[str]] = {}
        # Quotes run across punctuation, as replies are read with it taken out: a clause shorter than
        # ZH_QUOTE_CHARS ("他从小双目失明，") is quoted together with its neighbours.
        answer_cjk = _cjk_only(answer_norm)
        for start in range(len(answer_cjk) - ZH_QUOTE_CHARS + 1):
            quote = answer_cjk[start : start + ZH_QUOTE_CHARS]
            inside = frozenset(_bigrams(quote) & terms)  # the quote's own few bigrams: not every term per quote
            if _is_telling(inside) and quote not in story_cjk:
                quotes[quote] = inside
        self.long_quotes = {
            quote: frozenset(_bigrams(quote) - story_bigrams)
            for quote in (
                answer_cjk[start : start + ZH_LONG_QUOTE_CHARS]
                for start in range(len(answer_cjk) - ZH_LONG_QUOTE_CHARS + 1)
            )
            if quote not in story_cjk
        }
        self.terms = frozenset(terms)
        self.quotes = quotes
        # One C-level scan finds every (overlapping) secret bigram; a Python loop per character is too slow.
        alternatives = "|".join(re.escape(term) for term in sorted(self.terms))
        self.finder = re.compile(f"(?=({alternatives}))") if terms else None
        self.secret = self.terms
        self.live_quotes: tuple[str, ...] = (*quotes, *self.long_quotes)
        # An obedient host may write the answer in pinyin ("ta shi yi ge mang ren"): the same bigrams and quotes,
        # by sound (a quote in its reading in context, " mang ren ... ").
        self.pinyin = PinyinBigrams(answer_norm, terms)
        spoken = [options[0] for options in readings(answer_cjk)] if answer_cjk else []
        self.spoken_quotes = {
            answer_cjk[start : start + size]: " " + " ".join(spoken[start : start + size]) + " "
            for size in (ZH_QUOTE_CHARS, ZH_LONG_QUOTE_CHARS)
            for start in range(len(answer_cjk) - size + 1)
        }

    def set_known(self, known_norm: str) -> None:
        # What the players wrote is free, in characters or in pinyin.
        known = _bigrams(_cjk_only(known_norm)) | self.pinyin.named(known_norm)
        self.secret = self.terms - known
        self.live_quotes = (
            *(quote for quote, inside in self.quotes.items() if _is_telling(inside & self.secret)),
            *(quote for quote, bigrams in self.long_quotes.items() if bigrams - known),
        )

    def leaks(self, norm: str) -> bool:
        if not self.secret and not self.live_quotes:
            return False
        cjk = _cjk_only(norm)
        # Forward and reversed are judged apart: many words reversed are words too ("岛上"/"上岛").
        if any(self._quotes(text) or self._enough_phrases(text) for text in (cjk, cjk[::-1])):
            return True
        spoken = syllable_text(norm)
        return any(self.spoken_quotes[quote] in spoken for quote in self.live_quotes) or self._enough_pinyin(norm, cjk)

    def _quotes(self, cjk: str) -> bool:
        return any(quote in cjk for quote in self.live_quotes)

    def _enough_phrases(self, cjk: str) -> bool:
        """Score the maximal runs of secret bigrams in ``cjk`` against the thresholds."""
        if self.finder is None:
            return False
        return self._enough_hits((found.start(), found.group(1)) for found in self.finder.finditer(cjk))

    def _enough_pinyin(self, norm: str, cjk: str) -> bool:
        """The same rule for the secret written in pinyin (a syllable pair stands for its bigram), counted
        together with the characters' phrases: a reply telling part in characters, part in pinyin."""
        spoken = self.pinyin.hits(norm)
        if not spoken or self.finder is None:
            return False
        written = ((found.start(), found.group(1)) for found in self.finder.finditer(cjk))
        after = len(cjk) + 2  # pinyin phrases never join a character phrase
        return self._enough_hits(chain(written, ((after + index, bigram) for index, bigram in spoken)))

    def _enough_hits(self, hits: Iterable[tuple[int, str]]) -> bool:
        """Score runs of secret bigrams found at consecutive positions (a position may hold homophones)."""
        phrases: dict[tuple[str, ...], float] = {}
        covered: set[str] = set()
        run: list[str] = []
        positions: set[int] = set()
        last = -2
        for index, bigram in hits:
            if bigram not in self.secret:
                continue
            if index > last + 1 and run:
                phrases[tuple(run)] = _phrase_weight(run, len(positions))
                run, positions = [], set()
            run.append(bigram)
            positions.add(index)
            last = index
            covered.add(bigram)
        if run:
            phrases[tuple(run)] = _phrase_weight(run, len(positions))
        if len(covered) >= ZH_FLOOR and covered == self.secret:
            return True  # every secret bigram left, though in one phrase: a short answer ("冰块融化") quoted whole
        return _enough(sum(phrases.values()), len(covered), len(self.terms), ZH_MIN_PHRASES, ZH_MIN_RATIO, ZH_FLOOR)


def _phrase_weight(bigrams: list[str], positions: int) -> float:
    # Three or more shared characters, or one strong bigram, are no accident; a lone weak bigram may be.
    return 1.0 if positions > 1 or any(_is_strong(bigram) for bigram in bigrams) else ZH_WEAK_PHRASE_WEIGHT


class LeakGuard:
    """Built once per game; ``leaks`` is cheap enough to run on every streamed edit of a reply."""

    def __init__(self, story: str, answer: str, language: str, key_facts: Sequence[str] = ()) -> None:
        # Both scripts are checked whatever the language: a Chinese answer may hold English names and vice versa.
        self.language = language
        story_norm = _normalise(story)
        answer_norm = _normalise(answer)
        self._english = _EnglishSecret(story_norm, answer_norm)
        self._chinese = _ChineseSecret(story_norm, answer_norm)
        self._facts = _StatedFacts(story_norm, key_facts)
        self._known: str | None = None

    def distinctive_terms(self) -> frozenset[str]:
        """English stems and Chinese bigrams that count as the secret."""
        return self._english.terms | self._chinese.terms

    def touched_by(self, text: str) -> bool:
        """Whether ``text`` (the players' own words) names any part of the secret. An answer with no
        distinctive terms cannot be judged this way, so it counts as touched."""
        if not self._english.terms and not self._chinese.terms:
            return True
        norm = _normalise(text)
        if set(_stems(norm)) & self._english.terms:
            return True
        cjk = _cjk_only(norm)
        return any(bigram in cjk for bigram in self._chinese.terms)

    def named_terms(self, text: str) -> dict[str, int]:
        """The secret terms ``text`` names, each with the length of its longest spelling there
        (English stems with their words' lengths; Chinese bigrams count 2)."""
        norm = _normalise(text)
        named: dict[str, int] = {}
        for word in WORD_RE.findall(norm):
            stem = _stem(word)
            if stem in self._english.terms:
                named[stem] = max(named.get(stem, 0), len(word))
        cjk = _cjk_only(norm)
        named.update((bigram, 2) for bigram in self._chinese.terms if bigram in cjk)
        return named

    def leaks(self, text: str, known: str = "") -> bool:
        """Whether ``text`` gives the answer away; terms found in ``known`` (the players' own words) are free."""
        if known != self._known:
            # ``known`` changes once per question, ``leaks`` runs on every streamed edit: derive it once.
            known_norm = _normalise(known)
            self._english.set_known(known_norm)
            self._chinese.set_known(known_norm)
            self._facts.set_known(known_norm)
            self._known = known
        norm = _normalise(text)
        return self._english.leaks(norm) or self._chinese.leaks(norm) or self._facts.stated(norm)


class _StatedFacts:
    """The key facts' own distinctive terms, for telling a reply that states one. Numbers count as
    terms here ("2月29日" is the whole of "奶奶生于2月29日" that matters), marked "#29" apart from words.
    A fact's Chinese bigrams count when written in pinyin too."""

    def __init__(self, story_norm: str, key_facts: Sequence[str]) -> None:
        story_words = _word_terms(story_norm)
        story_bigrams = _bigrams(_cjk_only(story_norm))
        self.facts: list[tuple[frozenset[str], frozenset[str], PinyinBigrams, str | None]] = []
        for fact in key_facts:
            fact_norm = _normalise(fact)
            words = _word_terms(fact_norm, content_only=True) - story_words - HOST_TALK
            if len(words) == 1 and _short_word(next(iter(words)), fact_norm):
                words = frozenset()
            chinese = _secret_bigrams(fact_norm, story_bigrams)
            fact_cjk = _cjk_only(fact_norm)
            whole = " ".join(options[0] for options in readings(fact_cjk)) if fact_cjk else ""
            said = f" {whole} " if chinese and len(fact_cjk) >= FACT_PINYIN_MIN_SYLLABLES else None
            if words or chinese:
                self.facts.append((words, chinese, PinyinBigrams(fact_norm, chinese), said))
        self.known_words: frozenset[str] = frozenset()
        self.known_bigrams: frozenset[str] = frozenset()

    def set_known(self, known_norm: str) -> None:
        self.known_words = _word_terms(known_norm)
        pinyin_named = (spoken.named(known_norm) for _, _, spoken, _ in self.facts)
        self.known_bigrams = frozenset(_bigrams(_cjk_only(known_norm))).union(*pinyin_named)

    def stated(self, norm: str) -> bool:
        if not self.facts:
            return False
        words = _word_terms(norm)
        cjk = _cjk_only(norm)
        for terms, chinese, spoken, said in self.facts:
            if terms and terms <= words | self.known_words and terms & words - self.known_words:
                return True
            if said is not None and chinese - self.known_bigrams and said in syllable_text(norm):
                return True
            if chinese:
                named = frozenset(bigram for bigram in chinese if bigram in cjk) | spoken.named(norm)
                covered = len(named | (chinese & self.known_bigrams))
                fresh = named - self.known_bigrams
                if covered >= FACT_ZH_SHARE * len(chinese) and fresh and len(named) >= FACT_ZH_MIN_BIGRAMS:
                    return True
        return False


def _short_word(term: str, norm: str) -> bool:
    """Whether ``term`` (a stem, not a number) is spelled in ``norm`` only with fewer than
    FACT_ONE_WORD_MIN_LETTERS letters."""
    if term.startswith("#"):
        return False
    spelled = [len(word) for word in WORD_RE.findall(norm) if _stem(word) == term]
    return max(spelled, default=0) < FACT_ONE_WORD_MIN_LETTERS


def _secret_bigrams(norm: str, story_bigrams: set[str]) -> frozenset[str]:
    """The Chinese bigrams of ``norm`` (within its runs of characters) that the story lacks and that are
    not too common to tell anything."""
    return frozenset(
        bigram
        for run in CJK_RUN_RE.findall(norm)
        for bigram in _bigrams(run)
        if bigram not in story_bigrams and not _is_common_bigram(bigram)
    )


def _word_terms(norm: str, content_only: bool = False) -> frozenset[str]:
    """English stems (content words only, if asked) and numbers ("#29") of normalised text."""
    stems = (_stem(word) for word in WORD_RE.findall(norm) if not content_only or _is_content_word(word, _stem(word)))
    return frozenset(stems) | frozenset(f"#{number.lstrip('0') or '0'}" for number in NUMBER_RE.findall(norm))


def _runs(words: list[str], width: int) -> dict[tuple[str, ...], frozenset[str]]:
    """Each run of ``width`` words as stems, with its content words; runs of bare grammar are left out."""
    stems = [_stem(word) for word in words]
    runs: dict[tuple[str, ...], frozenset[str]] = {}
    for start in range(len(words) - width + 1):
        pairs = zip(words[start : start + width], stems[start : start + width], strict=True)
        content = frozenset(stem for word, stem in pairs if _is_content_word(word, stem))
        if content:
            runs[tuple(stems[start : start + width])] = content
    return runs


def _answer_runs(story_words: list[str], answer_words: list[str], width: int) -> dict[tuple[str, ...], frozenset[str]]:
    """The answer's word runs that the story does not already contain."""
    story_runs = _runs(story_words, width)
    return {run: content for run, content in _runs(answer_words, width).items() if run not in story_runs}


def _short_letter_runs(words: list[str], terms: frozenset[str], story_letters: str) -> dict[str, frozenset[str]]:
    """From each answer word, the shortest run of EN_SHORT_QUOTE_LETTERS letters or more, as letters, with its
    secret terms; runs without one, or that the story already spells out, are left out."""
    runs: dict[str, frozenset[str]] = {}
    for start in range(len(words)):
        end, size = start, 0
        while end < len(words) and size < EN_SHORT_QUOTE_LETTERS:
            size += len(words[end])
            end += 1
        if size < EN_SHORT_QUOTE_LETTERS:
            break
        secret = frozenset(
            stem
            for word, stem in ((word, _stem(word)) for word in words[start:end])
            if stem in terms and _is_content_word(word, stem)
        )
        letters = "".join(words[start:end])
        if secret and letters not in story_letters:
            runs[letters] = runs.get(letters, frozenset()) | secret
    return runs


def _letter_runs(story_words: list[str], answer_words: list[str], width: int) -> dict[str, frozenset[str]]:
    """The answer's ``width``-word runs absent from the story, as letters, with their content words."""
    runs: dict[str, frozenset[str]] = {}
    story_runs = _runs(story_words, width)
    for start in range(len(answer_words) - width + 1):
        words = answer_words[start : start + width]
        stems = tuple(_stem(word) for word in words)
        if stems in story_runs:
            continue
        content = frozenset(stem for word, stem in zip(words, stems, strict=True) if _is_content_word(word, stem))
        if content:
            runs["".join(words)] = runs.get("".join(words), frozenset()) | content
    return runs


def _quoted(stems: list[str], runs: dict[tuple[str, ...], frozenset[str]], width: int) -> frozenset[str]:
    """The content words of every answer run that ``stems`` repeats verbatim."""
    found: frozenset[str] = frozenset()
    for start in range(len(stems) - width + 1):
        content = runs.get(tuple(stems[start : start + width]))
        if content is not None:
            found |= content
    return found
