"""Every example config of docs/SERVERS.md loads with the bot's own config loader and means what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.config import Config, load_config

DOC = Path(__file__).parents[2] / "docs" / "SERVERS.md"
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```yaml\n(?P<body>.*?)```", re.DOTALL)
ENVIRONMENT = {
    name: f"{name.lower()}-value"
    for name in ("OPENAI_API_KEY", "DEEPSEEK_API_KEY", "ZHIPU_API_KEY", "OPENROUTER_API_KEY", "MODEL_API_KEY")
}
# Where each example sends the bot's requests (and, behind the model service, where the service relays).
ENDPOINTS = {
    "openai": "https://api.openai.com/v1",
    "openai-reasoning": "https://api.openai.com/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "glm": "https://open.bigmodel.cn/api/paas/v4",
    "ollama": "http://127.0.0.1:11434/v1",
    "vllm": "http://127.0.0.1:8001/v1",
    "llama-cpp": "http://127.0.0.1:8080/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "service-relay": "http://127.0.0.1:8000/v1",
}


def examples() -> dict[str, str]:
    found = {match["name"]: match["body"] for match in EXAMPLE.finditer(DOC.read_text(encoding="utf-8"))}
    assert found, f"{DOC}: no examples found"
    return found


def load_example(name: str, tmp_path: Path, environ: dict[str, str] | None = None) -> Config:
    path = tmp_path / f"{name}.yaml"
    path.write_text(examples()[name], encoding="utf-8")
    return load_config(path, ENVIRONMENT if environ is None else environ)


def test_there_is_an_example_for_every_kind_of_server() -> None:
    assert set(examples()) == set(ENDPOINTS)


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_each_example_loads_and_points_where_it_says(name: str, tmp_path: Path) -> None:
    config = load_example(name, tmp_path)
    assert config.model.base_url == ENDPOINTS[name]
    assert config.model.api_key  # every client sends a key, even to servers that ignore it
    assert config.model.name and config.model.verdict_format in ("auto", "json_schema", "json_object", "text")


def test_keys_come_from_the_environment(tmp_path: Path) -> None:
    assert load_example("openai", tmp_path).model.api_key == "openai_api_key-value"
    unset = load_example("openai", tmp_path, environ={})
    assert unset.model.api_key is None and unset.unset_env == {"model.api_key": "OPENAI_API_KEY"}
    assert load_example("vllm", tmp_path, environ={}).model.api_key == "none"  # a fallback for keyless servers


def test_reasoning_models_get_room_to_think(tmp_path: Path) -> None:
    reasoning = load_example("openai-reasoning", tmp_path).model
    chat = load_example("openai", tmp_path).model
    assert reasoning.temperature == 1  # OpenAI's reasoning models take no other value
    assert reasoning.max_tokens > chat.max_tokens and reasoning.first_token_timeout > chat.first_token_timeout


def test_the_relay_example_configures_both_processes(tmp_path: Path) -> None:
    config = load_example("service-relay", tmp_path)
    assert config.model.api_key == config.model_service.api_key == "model_api_key-value"
    assert config.model_service.backend == "openai"
    assert config.model_service.openai.base_url == "https://api.deepseek.com/v1"
    assert config.model_service.openai.model == "deepseek-chat"


def test_the_readme_points_to_the_examples() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/SERVERS.md" in readme
