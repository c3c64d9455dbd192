"""Provider rules: which 400s teach a rule, how a request is reshaped, and that nothing else changes."""

from __future__ import annotations

from dataclasses import dataclass

from common.provider_rules import ProviderRules, RetryBudget, Rule, rule_for

TODAY = {"model": "o4-mini", "messages": [], "stream": True, "temperature": 0.2, "max_tokens": 300}


@dataclass
class Refused:
    """The attributes openai.APIStatusError carries for OpenAI's error body."""

    param: str | None
    code: str | None
    status_code: int = 400
    message: str = ""


def test_a_model_with_no_rules_gets_todays_request() -> None:
    rules = ProviderRules()
    assert rules.shape("o4-mini", TODAY) is TODAY


def test_max_tokens_refused_becomes_max_completion_tokens() -> None:
    rules = ProviderRules()
    assert rules.learn("o4-mini", Refused("max_tokens", "unsupported_parameter")) == Rule(
        "max_tokens", "max_completion_tokens"
    )
    shaped = rules.shape("o4-mini", TODAY)
    assert "max_tokens" not in shaped and shaped["max_completion_tokens"] == 300
    assert TODAY["max_tokens"] == 300  # the caller's body is left alone


def test_temperature_refused_is_left_out() -> None:
    rules = ProviderRules()
    rules.learn("o4-mini", Refused("temperature", "unsupported_value"))
    rules.learn("o4-mini", Refused("max_tokens", "unsupported_parameter"))
    shaped = rules.shape("o4-mini", TODAY)
    assert "temperature" not in shaped
    assert shaped == {"model": "o4-mini", "messages": [], "stream": True, "max_completion_tokens": 300}


def test_rules_are_kept_per_model() -> None:
    rules = ProviderRules()
    rules.learn("o4-mini", Refused("temperature", "unsupported_value"))
    assert rules.shape("gpt-4o-mini", TODAY) is TODAY
    assert rules.learned("o4-mini") == (Rule("temperature"),)


def test_both_limits_sent_keeps_the_clients_max_completion_tokens() -> None:
    rules = ProviderRules()
    rules.learn("o4-mini", Refused("max_tokens", "unsupported_parameter"))
    shaped = rules.shape("o4-mini", {"max_tokens": 10, "max_completion_tokens": 500})
    assert shaped == {"max_completion_tokens": 500}


def test_other_400s_teach_nothing() -> None:
    rules = ProviderRules()
    assert rules.learn("m", Refused("logit_bias", "unsupported_parameter")) is None  # not ours to drop
    assert rules.learn("m", Refused("messages", "invalid_value")) is None
    assert rules.learn("m", Refused(None, None)) is None
    assert rules.learn("m", Refused("temperature", "unsupported_value", status_code=422)) is None
    assert rules.learn("m", Refused("max_completion_tokens", "unsupported_parameter")) is None
    assert rules.learned("m") == ()


def test_max_tokens_with_a_bad_value_is_not_renamed() -> None:
    # Too large for the model is the caller's problem, not a parameter the model lacks.
    assert rule_for("max_tokens", "unsupported_value") is None


def test_a_request_retries_once_per_rule() -> None:
    budget = RetryBudget()
    rule = Rule("temperature")
    assert budget.allows(rule) and not budget.allows(rule)
    assert budget.allows(Rule("max_tokens", "max_completion_tokens"))
    assert not budget.allows(None)


GPT_5_1 = (
    "Unsupported value: 'reasoning_effort' does not support 'minimal' with this model. "
    "Supported values are: 'none', 'low', 'medium', and 'high'."
)
O_SERIES = (
    "Unsupported value: 'reasoning_effort' does not support 'none' with this model. "
    "Supported values are: 'low', 'medium', and 'high'."
)


def test_a_refused_effort_becomes_the_nearest_the_model_takes() -> None:
    rules = ProviderRules()
    rule = rules.learn("o3", Refused("reasoning_effort", "unsupported_value", message=O_SERIES))
    assert rule == Rule("reasoning_effort", value="low", instead_of="none")
    assert rules.shape("o3", {"reasoning_effort": "none"}) == {"reasoning_effort": "low"}
    assert rules.shape("o3", {"reasoning_effort": "high"}) == {"reasoning_effort": "high"}  # only the refused one
    assert ProviderRules().learn("gpt-5.1", Refused("reasoning_effort", "unsupported_value", message=GPT_5_1)) == Rule(
        "reasoning_effort", value="none", instead_of="minimal"
    )


def test_an_effort_refusal_without_the_models_values_leaves_the_effort_out() -> None:
    rules = ProviderRules()
    assert rules.learn("m", Refused("reasoning_effort", "unsupported_value", message="no")) == Rule("reasoning_effort")
    assert rules.learn("m", Refused("reasoning_effort", "unsupported_parameter")) == Rule("reasoning_effort")
