"""Structured verdicts: the host answers as JSON fields (`response_format`), read back as the text protocol.

Where a server can constrain its output to a JSON schema (llama.cpp, vLLM, SGLang, OpenAI, Ollama), even a
tiny model then always writes a well-formed verdict. The host client asks for the fields below and decodes
the partial JSON as it streams, turning it into the canonical text the rest of the bot reads
("Yes. <comment>\\n[facts: 1, 3]", zh "是。<comment>\\n[要点：1、3]"): the verdict shows as soon as its field
is complete, the comment streams as it arrives, the facts line closes the reply. Parsing, the facts line,
the leak guard and judging are unchanged.

Servers differ in how they take a schema: OpenAI, vLLM and llama.cpp's llama-server take
``{"type": "json_schema", "json_schema": {...}}``; llama-cpp-python's server refuses that (an error naming
``response_format.type``) but enforces ``{"type": "json_object", "schema": {...}}``. `FormatLadder` tries them in
that order and falls back to the text protocol where a server refuses both, remembering what worked.
A server that ignores `response_format` and answers prose is read as the text protocol, as it was written.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import openai

from bot.game.sse import FinalText

log = logging.getLogger(__name__)

VerdictFormat = Literal["auto", "json_schema", "json_object", "text"]
# What `auto` tries, best first; a configured format falls back to text only.
AUTO_LADDER: tuple[VerdictFormat, ...] = ("json_schema", "json_object", "text")
# The verdict field's values; the reply shows them in the game's language.
VERDICT_VALUES = ("yes", "no", "irrelevant", "correct")
LABEL_TEXT = {
    "en": {"yes": "Yes", "no": "No", "irrelevant": "Irrelevant", "correct": "Correct"},
    "zh": {"yes": "是", "no": "否", "irrelevant": "无关", "correct": "正确"},
}
# A model writing free JSON may use the labels themselves.
_VALUE_OF = {
    **{value: value for value in VERDICT_VALUES},
    **{label.lower(): value for labels in LABEL_TEXT.values() for value, label in labels.items()},
}
_LABEL_END = {"en": ".", "zh": "。"}
_COMMENT_GAP = {"en": " ", "zh": ""}
_FACTS_LINE = {"en": ("[facts: {}]", ", ", "none"), "zh": ("[要点：{}]", "、", "无")}
SCHEMA_NAME = "host_verdict"
REFUSAL_STATUSES = frozenset({400, 422, 500, 502})
_FORMAT_NOTES = {
    "en": (
        "Write each reply as a JSON object with these fields, in this order: "
        '"verdict" (one of "yes", "no", "irrelevant", "correct"), "comment" (your one short sentence, or "")'
        "{facts}. The fields replace the reply's text layout."
    ),
    "zh": (
        "每次回复写成一个 JSON 对象，依次包含这些字段："
        '"verdict"（"yes"、"no"、"irrelevant"、"correct" 之一，分别表示是、否、无关、正确），'
        '"comment"（那句简短的话，没有就写 ""）'
        "{facts}。这些字段取代回复的文字格式。"
    ),
}
_FACTS_NOTES = {
    "en": ', "facts" (the numbers of the key facts the message uncovered, [] for none)',
    "zh": '，"facts"（这句话问出或说中的要点编号，没有就写 []）',
}


@dataclass(frozen=True, slots=True)
class VerdictForm:
    """What a verdict request expects back: the game's language, and how many key facts its prompt numbers
    (0: the prompt asks for no facts line, so the schema has no facts field)."""

    language: str = "en"
    facts: int = 0


def verdict_schema(form: VerdictForm) -> dict[str, Any]:
    """The JSON schema of one reply. Field order is the order the text shows them, so each streams in place."""
    properties: dict[str, Any] = {
        "verdict": {"type": "string", "enum": list(VERDICT_VALUES)},
        "comment": {"type": "string"},
    }
    if form.facts:
        properties["facts"] = {"type": "array", "items": {"type": "integer", "enum": list(range(1, form.facts + 1))}}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def response_format(kind: VerdictFormat, form: VerdictForm) -> dict[str, Any] | None:
    """The `response_format` request field for a format; None for the text protocol."""
    if kind == "json_schema":
        schema = verdict_schema(form)
        return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}
    if kind == "json_object":
        return {"type": "json_object", "schema": verdict_schema(form)}
    return None


def with_format_note(messages: list[dict[str, str]], form: VerdictForm) -> list[dict[str, str]]:
    """The messages with the fields described at the end of the system prompt (OpenAI's json_object mode
    refuses a request whose messages do not mention JSON; a model that is not constrained needs telling)."""
    language = form.language if form.language in _FORMAT_NOTES else "en"
    note = _FORMAT_NOTES[language].format(facts=_FACTS_NOTES[language] if form.facts else "")
    shaped = [dict(message) for message in messages]
    for message in shaped:
        if message.get("role") == "system":
            message["content"] = f"{message['content']}\n\n{note}"
            return shaped
    return [{"role": "system", "content": note}, *shaped]


def shape_request(body: dict[str, Any], kind: VerdictFormat, form: VerdictForm) -> dict[str, Any]:
    """A chat request body asking for the structured reply (unchanged for the text protocol)."""
    requested = response_format(kind, form)
    if requested is None:
        return body
    return {**body, "messages": with_format_note(body["messages"], form), "response_format": requested}


@dataclass(frozen=True, slots=True)
class JsonDocument:
    """A reply asked for as one whole JSON object of `schema` (a generated puzzle, not a verdict): the request
    carries it as `response_format` in the format the endpoint takes, and the reply's text is passed on as it
    comes, for its caller to read (the prompt describes the fields, for a server that ignores the schema)."""

    name: str
    schema: dict[str, Any]


def shape_document_request(body: dict[str, Any], kind: VerdictFormat, document: JsonDocument) -> dict[str, Any]:
    """A chat request body asking for `document` as JSON (unchanged for the text protocol)."""
    if kind == "json_schema":
        requested = {
            "type": "json_schema",
            "json_schema": {"name": document.name, "strict": True, "schema": document.schema},
        }
    elif kind == "json_object":
        requested = {"type": "json_object", "schema": document.schema}
    else:
        return body
    return {**body, "response_format": requested}


def refuses_format(error: BaseException) -> bool:
    """An error naming response_format (or json_schema): the server does not take this format. Usually a 400
    (OpenAI, vLLM) or 422; llama-cpp-python's server answers a 500 whose message names `response_format.type`,
    and the model service wraps an upstream's refusal in a 502 that quotes it."""
    if not isinstance(error, openai.APIStatusError) or error.status_code not in REFUSAL_STATUSES:
        return False
    said = f"{error.message} {json.dumps(error.body, ensure_ascii=False, default=str)}".lower()
    return "response_format" in said or "json_schema" in said


class FormatLadder:
    """The format to ask one endpoint for, stepping down when the endpoint refuses one, remembered for the
    client's lifetime (one client talks to one endpoint) so refusals cost one request each, not one per
    question."""

    def __init__(self, configured: VerdictFormat, endpoint: str = "") -> None:
        self.steps: tuple[VerdictFormat, ...]
        if configured == "auto":
            self.steps = AUTO_LADDER
        elif configured == "text":
            self.steps = ("text",)
        else:
            self.steps = (configured, "text")
        self.endpoint = endpoint
        self._index = 0

    @property
    def current(self) -> VerdictFormat:
        return self.steps[self._index]

    def step_down(self, refused: VerdictFormat, error: BaseException) -> bool:
        """After `refused` was asked for and the endpoint answered `error`: True when the request should be
        sent again now with the next format (also when a concurrent request has already stepped down)."""
        if refused == "text" or not refuses_format(error):
            return False
        if self.current == refused:
            self._index = min(self._index + 1, len(self.steps) - 1)
            log.warning(
                "model endpoint %s refused response_format %s; asking for %s from now on",
                self.endpoint,
                refused,
                self.current,
            )
        return True


async def canonical_text(deltas: AsyncIterator[Any], form: VerdictForm) -> AsyncIterator[Any]:
    """The text protocol decoded from a structured reply's deltas; items that are not text (thinking
    markers) pass through untouched, in place."""
    decoder = StructuredReply(form)
    try:
        async for item in deltas:
            if not isinstance(item, str):
                yield item
                continue
            if isinstance(item, FinalText):  # the reply is whole: so is its text
                yield FinalText(decoder.feed(item) + decoder.finish())
                async for _ in deltas:  # resumed: the stream's end is read, nothing more is shown
                    pass
                return
            text = decoder.feed(item)
            if text:
                yield text
        tail = decoder.finish()
        if tail:
            yield tail
    finally:
        closer = getattr(deltas, "aclose", None)
        if closer is not None:
            await closer()


class StructuredReply:
    """Turns a streamed JSON reply into the text protocol, a piece at a time.

    `feed` takes the reply's next characters and returns the text they complete; `finish` returns what is
    left once the reply ends (also a reply cut off mid-object). A reply that does not open with a JSON
    object (markdown fences around it are allowed) is the text protocol already and passes through."""

    def __init__(self, form: VerdictForm) -> None:
        self.form = form
        self.language = form.language if form.language in LABEL_TEXT else "en"
        self._mode: Literal["undecided", "json", "text"] = "undecided"
        self._prelude = ""
        self._object = _ObjectReader(self._on_value, self._on_string)
        self._verdict_shown = False
        self._comment_started = False
        self._held_comment = ""
        self._facts: list[int] | None = None
        self._closed = False
        self._out: list[str] = []  # what the current feed() completes, appended to by the callbacks

    def feed(self, text: str) -> str:
        if self._mode == "text":
            return text
        if self._mode == "undecided":
            self._prelude += text
            start = _json_start(self._prelude)
            if start is None:
                return ""
            if start < 0:
                self._mode = "text"
                return self._prelude
            self._mode = "json"
            text = self._prelude[start:]
        self._out = []
        self._object.feed(text)
        if self._object.done and not self._closed:
            self._out.append(self._close())
        return "".join(self._out)

    def finish(self) -> str:
        if self._mode == "undecided":
            return self._prelude
        if self._mode == "text" or self._closed:
            return ""
        return self._close()

    # -- rendering -----------------------------------------------------------------------------------

    def _on_value(self, key: str, value: Any) -> None:
        if key == "verdict" and not self._verdict_shown and isinstance(value, str) and value.strip():
            self._verdict_shown = True
            self._out.append(self._label(value) + self._held_comment)
            self._held_comment = ""
        elif key == "facts" and isinstance(value, list):
            self._facts = _fact_numbers(value)

    def _on_string(self, key: str, piece: str) -> None:
        if key != "comment":
            return
        piece = piece.replace("\r", "").replace("\n", " ")  # one line: the facts line stays the last
        if not self._comment_started:
            piece = piece.lstrip()
            if not piece:
                return
            self._comment_started = True
            piece = _COMMENT_GAP[self.language] + piece
        if self._verdict_shown:
            self._out.append(piece)
        else:
            self._held_comment += piece

    def _label(self, value: str) -> str:
        word = value.strip()
        known = _VALUE_OF.get(word.lower().rstrip(".。!！"))
        text = LABEL_TEXT[self.language][known] if known else word
        return text + _LABEL_END[self.language]

    def _close(self) -> str:
        self._closed = True
        rest = self._held_comment.lstrip() if not self._verdict_shown else ""
        if self.form.facts and self._facts is not None:
            template, separator, none = _FACTS_LINE[self.language]
            listed = separator.join(str(number) for number in self._facts) or none
            rest += "\n" + template.format(listed)
        return rest


def _json_start(prelude: str) -> int | None:
    """Where the JSON object starts in the reply's opening: its index, None while undecided, -1 for prose."""
    stripped = prelude.lstrip()
    offset = len(prelude) - len(stripped)
    if not stripped:
        return None
    if stripped.startswith("{"):
        return offset
    if stripped.startswith("```"):
        fence = re.match(r"```[A-Za-z]*\s*", stripped)
        assert fence is not None
        after = stripped[fence.end() :]
        if not after:
            return None
        return offset + fence.end() if after.startswith("{") else -1
    return None if "```".startswith(stripped) else -1


def _fact_numbers(items: list[Any]) -> list[int]:
    numbers: list[int] = []
    for item in items:
        number: int | None = None
        if isinstance(item, int) and not isinstance(item, bool):
            number = item
        elif isinstance(item, float) and item.is_integer():
            number = int(item)
        elif isinstance(item, str) and item.strip().isdigit():
            number = int(item.strip())
        if number is not None and number not in numbers:
            numbers.append(number)
    return numbers


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_SCALAR_END = frozenset(",}] \t\r\n")


class _StringReader:
    """Decodes one JSON string's characters as they arrive: escapes and \\u pairs may be split anywhere."""

    def __init__(self) -> None:
        self.escape = False
        self.hex: str | None = None  # the digits of a \\u escape being read
        self.high: int | None = None  # a high surrogate waiting for its low half
        self.text: list[str] = []

    def feed(self, char: str) -> tuple[str, bool]:
        """The text this character completes, and whether it closed the string."""
        if self.hex is not None:
            self.hex += char
            if len(self.hex) < 4:
                return "", False
            try:
                code = int(self.hex, 16)
            except ValueError:
                code = 0xFFFD
            self.hex = None
            return self._code_point(code), False
        if self.escape:
            self.escape = False
            if char == "u":
                self.hex = ""
                return "", False
            return self._plain(_ESCAPES.get(char, char)), False
        if char == "\\":
            self.escape = True
            return "", False
        if char == '"':
            lone = self._flush_high()
            return lone, True
        return self._plain(char), False

    def _code_point(self, code: int) -> str:
        if 0xD800 <= code <= 0xDBFF:
            lone = self._flush_high()
            self.high = code
            return lone
        if 0xDC00 <= code <= 0xDFFF and self.high is not None:
            char = chr(0x10000 + ((self.high - 0xD800) << 10) + (code - 0xDC00))
            self.high = None
            self.text.append(char)
            return char
        return self._plain("\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code))

    def _plain(self, char: str) -> str:
        char = self._flush_high() + char
        self.text.append(char)
        return char

    def _flush_high(self) -> str:
        if self.high is None:
            return ""
        self.high = None
        self.text.append("\ufffd")
        return "\ufffd"


class _ObjectReader:
    """A streaming reader of one top-level JSON object: calls `on_string(key, piece)` as a string member's
    value arrives and `on_value(key, value)` once any member's value is complete. Nested values are read
    whole; text after the closing brace is ignored, and malformed JSON never raises."""

    def __init__(self, on_value: Callable[[str, Any], None], on_string: Callable[[str, str], None]) -> None:
        self.on_value = on_value
        self.on_string = on_string
        self.state = "open"  # open, key_or_end, key, colon, value, string, raw, after, done
        self.key = ""
        self.string: _StringReader | None = None
        self.raw: list[str] = []
        self.depth = 0  # bracket depth inside a raw (non-string) value
        self.raw_string = False  # inside a string nested in a raw value
        self.raw_escape = False

    @property
    def done(self) -> bool:
        return self.state == "done"

    def feed(self, text: str) -> None:
        for char in text:
            if self.state == "done":
                return
            self._step(char)

    def _step(self, char: str) -> None:  # noqa: C901 - one branch per state reads best as a table
        state = self.state
        if state == "open":
            if char == "{":
                self.state = "key_or_end"
        elif state == "key_or_end":
            if char == '"':
                self.state, self.string = "key", _StringReader()
            elif char == "}":
                self.state = "done"
        elif state == "key":
            assert self.string is not None
            _, closed = self.string.feed(char)
            if closed:
                self.key, self.state = "".join(self.string.text), "colon"
        elif state == "colon":
            if char == ":":
                self.state = "value"
        elif state == "value":
            if char == '"':
                self.state, self.string = "string", _StringReader()
            elif not char.isspace():
                self.state, self.raw, self.depth = "raw", [], 0
                self._raw(char)
        elif state == "string":
            assert self.string is not None
            piece, closed = self.string.feed(char)
            if piece:
                self.on_string(self.key, piece)
            if closed:
                self.state = "after"
                self.on_value(self.key, "".join(self.string.text))
        elif state == "raw":
            self._raw(char)
        elif state == "after":
            if char == ",":
                self.state = "key_or_end"
            elif char == "}":
                self.state = "done"

    def _raw(self, char: str) -> None:
        """A number, literal, array or object value: collected whole, then decoded."""
        if self.raw_string:
            self.raw.append(char)
            if self.raw_escape:
                self.raw_escape = False
            elif char == "\\":
                self.raw_escape = True
            elif char == '"':
                self.raw_string = False
            return
        if self.depth == 0 and self.raw and char in _SCALAR_END:
            self._finish_raw()
            self.state = "after"
            self._step(char)
            return
        self.raw.append(char)
        if char == '"':
            self.raw_string = True
        elif char in "[{":
            self.depth += 1
        elif char in "]}":
            self.depth -= 1
            if self.depth <= 0:
                self._finish_raw()
                self.state = "after"

    def _finish_raw(self) -> None:
        try:
            value = json.loads("".join(self.raw))
        except ValueError:
            return  # malformed: the member is left out
        self.on_value(self.key, value)
