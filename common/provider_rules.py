"""What a model's server refuses, learned from its 400s, and requests reshaped to fit.

OpenAI's reasoning models (o-series, GPT-5) refuse `max_tokens` (`error.param: "max_tokens"`,
`code: "unsupported_parameter"`, "use max_completion_tokens") and any temperature but the default
(`param: "temperature"`, `code: "unsupported_value"`). Other servers accept both. So nothing is
guessed from a model's name: requests go out as they always did, and only a 400 in that shape
teaches a rule, kept for that model for the life of the process. Both the bot's host client and the
model service's relay use this module.

No retry storms: a caller retries a request at most once per rule (`RetryBudget`), at once, and only
before any text arrived; a 400 naming anything else is a plain failure.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

BAD_REQUEST = 400
# OpenAI's codes for a parameter the model does not take at all, or not with this value.
UNSUPPORTED_CODES = frozenset({"unsupported_parameter", "unsupported_value"})
# The token bound under the name reasoning models take (it counts their thinking too).
RENAMED = {"max_tokens": "max_completion_tokens"}
# Parameters whose absence means the server's default: leaving one out still gets an answer, the
# model's usual one (temperature 1, its own top_p, its own reasoning effort).
OMITTABLE = frozenset({"temperature", "top_p", "reasoning_effort", "stream_options"})
# OpenAI's efforts, least thinking first. Its refusal of one lists the model's own
# ("... does not support 'minimal' with this model. Supported values are: 'none', 'low', ..."):
# the nearest of those is sent instead, so `off` stays as little thinking as the model allows.
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_REFUSED_VALUE = re.compile(r"does not support '([a-z]+)'|'([a-z]+)' is not supported")
_SUPPORTED_VALUES = re.compile(r"[Ss]upported values are:?([^.]*)")


@dataclass(frozen=True)
class Rule:
    """Send `param` as `rename_to`, or with `value` instead of `instead_of`, or (neither) leave it out."""

    param: str
    rename_to: str | None = None
    value: str | None = None
    instead_of: str | None = None

    def apply(self, body: dict[str, Any]) -> None:
        if self.param not in body:
            return
        if self.value is not None:
            if body[self.param] == self.instead_of:
                body[self.param] = self.value
            return
        value = body.pop(self.param)
        if self.rename_to is not None:
            body.setdefault(self.rename_to, value)

    def describe(self) -> str:
        if self.value is not None:
            return f"sends {self.param} {self.value} instead of {self.instead_of}"
        return f"sends {self.rename_to} instead of {self.param}" if self.rename_to else f"leaves out {self.param}"


def nearest_effort(message: object) -> Rule | None:
    """From OpenAI's refusal of a reasoning effort: the model's supported effort nearest the refused one
    (the lower on a tie), or None when the message does not say both."""
    if not isinstance(message, str):
        return None
    refused = _REFUSED_VALUE.search(message)
    supported = _SUPPORTED_VALUES.search(message)
    if refused is None or supported is None:
        return None
    asked = refused.group(1) or refused.group(2)
    offered = [value for value in re.findall(r"'([a-z]+)'", supported.group(1)) if value in EFFORTS]
    if asked not in EFFORTS or not offered:
        return None
    rank = EFFORTS.index(asked)
    best = min(offered, key=lambda value: (abs(EFFORTS.index(value) - rank), EFFORTS.index(value)))
    return Rule("reasoning_effort", value=best, instead_of=asked)


def rule_for(param: object, code: object) -> Rule | None:
    """The adaptation a 400 in OpenAI's shape asks for, or None when it names nothing we can adapt."""
    if not isinstance(param, str) or code not in UNSUPPORTED_CODES:
        return None
    if param in RENAMED and code == "unsupported_parameter":
        return Rule(param, RENAMED[param])
    if param in OMITTABLE:
        return Rule(param)
    return None


def _stream_options_refused(error: object) -> Rule | None:
    """Servers that predate `stream_options` refuse it in their own words, without OpenAI's param/code
    ("Unrecognized request argument supplied: stream_options"). The relay adds it itself, for usage
    only, so a 400 that names it in any words means: leave it out."""
    message = getattr(error, "message", None)
    if getattr(error, "param", None) is None and isinstance(message, str) and "stream_options" in message:
        return Rule("stream_options")
    return None


class ProviderRules:
    """Rules learned per model name; requests of a model with none go out untouched."""

    def __init__(self) -> None:
        self._rules: dict[str, list[Rule]] = {}

    def shape(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        rules = self._rules.get(model)
        if not rules:
            return body
        shaped = dict(body)
        for rule in rules:
            rule.apply(shaped)
        return shaped

    def learn(self, model: str, error: object) -> Rule | None:
        """The rule `error` (an openai.APIStatusError or anything with its attributes) teaches for
        `model`, remembered from now on; None when it teaches nothing."""
        if getattr(error, "status_code", None) != BAD_REQUEST:
            return None
        param, code = getattr(error, "param", None), getattr(error, "code", None)
        rule = None
        if param == "reasoning_effort" and code == "unsupported_value":
            body = getattr(error, "body", None)  # openai's errors keep the server's error object here
            message = body.get("message") if isinstance(body, dict) else getattr(error, "message", None)
            rule = nearest_effort(message)
        rule = rule or rule_for(param, code) or _stream_options_refused(error)
        if rule is None:
            return None
        known = self._rules.setdefault(model, [])
        if rule not in known:
            known.append(rule)
            log.info("model %s refused %s: it now %s", model, rule.param, rule.describe())
        return rule

    def learned(self, model: str) -> tuple[Rule, ...]:
        return tuple(self._rules.get(model, ()))


class RetryBudget:
    """One request's retries for learned rules: at most one per rule, so a request cannot loop."""

    def __init__(self) -> None:
        self._used: set[Rule] = set()

    def allows(self, rule: Rule | None) -> bool:
        if rule is None or rule in self._used:
            return False
        self._used.add(rule)
        return True
