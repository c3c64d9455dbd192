"""model.reasoning and model.provider: what each provider is sent, and the config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import ConfigError, ModelConfig, load_config, validate
from common.reasoning import reasoning_fields, resolve_provider


@pytest.mark.parametrize("provider", [None, "openai", "vllm", "sglang", "llamacpp", "ollama", "glm", "deepseek"])
def test_default_sends_nothing(provider: str | None) -> None:
    assert reasoning_fields(provider, "default") == {}


@pytest.mark.parametrize(
    ("base_url", "provider"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://api.deepseek.com/v1", "deepseek"),
        ("https://open.bigmodel.cn/api/paas/v4", "glm"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("http://127.0.0.1:11434/v1", "ollama"),
        ("http://127.0.0.1:8001/v1", None),  # vLLM, SGLang, llama.cpp: the url cannot tell
    ],
)
def test_auto_knows_only_the_public_hosts(base_url: str, provider: str | None) -> None:
    assert resolve_provider("auto", base_url) == provider
    assert resolve_provider("vllm", base_url) == "vllm"  # a named provider always wins


def test_off_without_a_known_provider_names_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        validate({"model": {"reasoning": "off", "api_key": "sk-do-not-echo-me"}}, "config.yaml")
    message = str(caught.value)
    assert "model.reasoning: off needs model.provider (one of: openai, vllm," in message
    assert "sk-do-not-echo-me" not in message


@pytest.mark.parametrize(("reasoning", "name"), [("off", "deepseek-reasoner"), ("low", "deepseek-chat")])
def test_deepseek_is_chosen_by_model_name(reasoning: str, name: str) -> None:
    settings = {"base_url": "https://api.deepseek.com/v1", "name": name, "reasoning": reasoning}
    with pytest.raises(ConfigError, match="the model name chooses thinking"):
        validate({"model": settings}, "config.yaml")
    right = "deepseek-chat" if reasoning == "off" else "deepseek-reasoner"
    assert ModelConfig.model_validate({**settings, "name": right}).reasoning == reasoning


def test_an_unknown_reasoning_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"model\.reasoning"):
        validate({"model": {"reasoning": "max", "provider": "openai"}}, "config.yaml")


def test_a_bare_off_in_yaml_means_off(tmp_path: Path) -> None:
    # YAML 1.1 reads an unquoted `off` as false; the setting must still mean "off", as the examples write it.
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  base_url: http://127.0.0.1:11434/v1\n  provider: ollama\n  reasoning: off\n")
    assert load_config(path).model.reasoning == "off"
    path.write_text("model:\n  provider: ollama\n  reasoning: yes\n")
    with pytest.raises(ConfigError, match=r"model\.reasoning"):
        load_config(path)
