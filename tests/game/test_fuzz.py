"""Property tests: the leak guard and the config loader on arbitrary input never fail in an unplanned way."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.game.leak import EN_STOPWORDS, LeakGuard
from common.config import Config, ConfigError, interpolate, load_config, validate

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the leak guard ---------------------------------------------------------------------------------------------------

# Everything a reply or a story may hold: any script, invisible and combining characters, markdown.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("\u200b\u200d\u202e\u2060\ufeff\u0301\u3000。，、“”！？ ｀*_~|`#>-")),
        st.sampled_from(list("海龟汤妻子荒岛冰块融化哨兵对岸")),
    ),
    max_size=300,
)
LANGUAGE = st.sampled_from(["en", "zh", "fr", ""])


@FAST
@given(story=ANY_TEXT, answer=ANY_TEXT, language=LANGUAGE, text=ANY_TEXT, known=ANY_TEXT)
def test_the_guard_never_raises_and_is_deterministic(
    story: str, answer: str, language: str, text: str, known: str
) -> None:
    guard = LeakGuard(story, answer, language)
    first = guard.leaks(text, known)
    assert isinstance(first, bool)
    assert guard.leaks(text, known) is first  # twice in a row
    guard.leaks(answer, story)  # a call with other arguments in between must not change it
    assert guard.leaks(text, known) is first
    assert LeakGuard(story, answer, language).leaks(text, known) is first  # a fresh guard agrees
    assert isinstance(guard.leaks(text), bool)
    assert isinstance(guard.distinctive_terms(), frozenset)


# English: the answer's key words use letters the story's words never do, so none of them is in the story, and
# distinct first letters keep their stems apart. Grammar words may sit between them.
KEY_WORD = st.text(alphabet="nopqrstuvwxyz", min_size=5, max_size=10).filter(lambda word: word not in EN_STOPWORDS)
STORY_WORD = st.text(alphabet="abcdefghijklm", min_size=3, max_size=9)
GRAMMAR = st.sampled_from(["the", "and", "was", "with", "because", "after", "his", "her", "that", "into", "then"])


@st.composite
def english_puzzle(draw: st.DrawFn) -> tuple[str, str]:
    keys = draw(st.lists(KEY_WORD, min_size=3, max_size=8, unique_by=lambda word: word[:3]))
    answer: list[str] = []
    for key in keys:
        answer += [*draw(st.lists(GRAMMAR, max_size=2)), key]
    answer += draw(st.lists(GRAMMAR, max_size=2))
    story = " ".join(draw(st.lists(st.one_of(STORY_WORD, GRAMMAR), min_size=3, max_size=30)))
    punctuation = draw(st.sampled_from([". ", ", ", " ", "; "]))
    text = punctuation.join(answer).capitalize() + "."
    return story, text


# Chinese: key words of two or three uncommon characters (no grammar in them), none of which the story uses.
KEY_CHARS = "鲸鳄蝎蟒鹫獾貂麋鸵鹦鹉犀蜥蛙蝠枭隼鹭鸢"
STORY_CHARS = "男人女孩走进餐厅点了一碗汤只喝口就放下勺子问服务员得到回答后当晚在家中"
ZH_KEY_WORD = st.text(alphabet=KEY_CHARS, min_size=2, max_size=3)
ZH_GRAMMAR = st.sampled_from(["", "的", "是", "和", "，", "。", "他把", "因为"])


@st.composite
def chinese_puzzle(draw: st.DrawFn) -> tuple[str, str]:
    keys = draw(st.lists(ZH_KEY_WORD, min_size=3, max_size=6, unique=True))
    # Three words that share no two-character piece are three distinct secrets.
    pieces = [{word[i : i + 2] for i in range(len(word) - 1)} for word in keys]
    assume(all(not (a & b) for index, a in enumerate(pieces) for b in pieces[index + 1 :]))
    answer = "".join(draw(ZH_GRAMMAR) + key for key in keys) + "。"
    story = "".join(draw(st.lists(st.sampled_from(list(STORY_CHARS)), min_size=5, max_size=40))) + "。"
    return story, answer


@FAST
@given(puzzle=english_puzzle(), prefix=st.sampled_from(["", "Yes. ", "No. Fine: ", "Irrelevant.\n```\n"]))
def test_a_verbatim_english_answer_always_leaks(puzzle: tuple[str, str], prefix: str) -> None:
    story, answer = puzzle
    assert LeakGuard(story, answer, "en").leaks(prefix + answer, known=story)


@FAST
@given(puzzle=chinese_puzzle(), prefix=st.sampled_from(["", "是。", "否，不过告诉你：", "无关。\n```\n"]))
def test_a_verbatim_chinese_answer_always_leaks(puzzle: tuple[str, str], prefix: str) -> None:
    story, answer = puzzle
    assert LeakGuard(story, answer, "zh").leaks(prefix + answer, known=story)


# -- the config loader ------------------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["${HOME}", "${UNSET_VAR}", "${X:-1}", "$${literal}", "en", "zh", "openai", "chatglm", "DEBUG"]),
)
# Keys YAML can produce, weighted towards the real section and field names so validation gets past the top.
REAL_KEYS = sorted(
    {
        *Config.model_fields,
        *(name for section in Config.model_fields.values() for name in getattr(section.annotation, "model_fields", {})),
        "openai",
        "chatglm",
    }
)
KEYS = st.one_of(st.sampled_from(REAL_KEYS), st.text(max_size=12), st.integers(-3, 3), st.booleans(), st.none())
YAML_DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=25,
)
SECTIONED = st.dictionaries(st.sampled_from(REAL_KEYS), YAML_DATA, max_size=6)


@FAST
@given(data=st.one_of(SECTIONED, YAML_DATA))
def test_validate_returns_a_config_or_a_config_error_naming_the_file(data: object) -> None:
    try:
        config = validate(data, "x.yaml")  # type: ignore[arg-type]  # YAML may hold anything at the top
    except ConfigError as error:
        assert str(error).startswith("x.yaml")
    else:
        assert isinstance(config, Config) and config.source == "x.yaml"


ENV_NAMES = st.sampled_from(["HOME", "TOKEN", "X", "UNSET_VAR", "A_1", "_"])
ENV_TEXT = st.text(alphabet=st.sampled_from(list("${}:-_AXHOMETKN1 ab")), max_size=30)


@FAST
@given(
    value=st.recursive(
        st.one_of(SCALARS, ENV_TEXT),
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
        max_leaves=20,
    ),
    environ=st.dictionaries(ENV_NAMES, st.text(max_size=10), max_size=4),
)
def test_interpolate_raises_nothing_but_config_errors(value: object, environ: dict[str, str]) -> None:
    unset: dict[str, str] = {}
    try:
        result = interpolate(value, environ, unset=unset)
    except ConfigError as error:
        assert "environment variable" in str(error)
        return
    assert type(result) is type(value) or (result is None and unset)
    assert not set(unset.values()) & set(environ)  # only variables that are really unset are reported


@st.composite
def config_text(draw: st.DrawFn) -> str:
    """Text that looks like YAML often enough to get past the parser, and arbitrary text otherwise."""
    lines = draw(
        st.lists(
            st.one_of(
                st.builds(
                    lambda indent, key, value: f"{indent}{key}: {value}",
                    st.sampled_from(["", "  ", "    ", "\t", " "]),
                    st.one_of(st.sampled_from(REAL_KEYS), st.text(alphabet="abz_-:#&*!", max_size=6)),
                    st.one_of(
                        st.sampled_from(["", "1", "-1", "x", "[1, 2]", "{a: b}", "~", "${X}", "yes", "*a"]), ENV_TEXT
                    ),
                ),
                st.text(max_size=40),
            ),
            max_size=12,
        )
    )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs") / "config.yaml"


@FAST
@given(
    content=st.one_of(
        config_text().map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),
    ),
    environ=st.dictionaries(ENV_NAMES, st.text(max_size=10), max_size=3),
)
def test_load_config_raises_nothing_but_config_errors(scratch: Path, content: bytes, environ: dict[str, str]) -> None:
    scratch.write_bytes(content)
    try:
        config = load_config(scratch, environ=environ)
    except ConfigError as error:
        assert str(error).startswith(str(scratch))
    else:
        assert isinstance(config, Config)
        assert not math.isnan(config.model.temperature)
