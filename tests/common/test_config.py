"""Config loading: interpolation, defaults and every validation error path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.game.prompt_variants import VARIANTS
from common.config import Config, ConfigError, interpolate, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return str(caught.value)


def test_example_config_loads_with_documented_defaults() -> None:
    config = load_config(REPO / "config.example.yaml", {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k"})
    assert config.discord.token == "t"
    assert config.redis.url == "redis://127.0.0.1:6379/0"
    assert config.model.base_url == "http://127.0.0.1:8000/v1"
    assert config.game.default_language == "en"
    assert config.stream.edit_interval == 1.0
    assert config.model_service.backend == "openai"
    assert config.model_service.chatglm.quantize == 4


def test_every_key_in_the_schema_is_documented_in_the_example() -> None:
    text = (REPO / "config.example.yaml").read_text(encoding="utf-8")

    def keys(model: type, prefix: str = "") -> list[str]:
        found = []
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            found.append(name)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                found.extend(keys(annotation))
        return found

    missing = [key for key in keys(Config) if f"{key}:" not in text]
    assert missing == []


def test_the_example_says_what_each_host_prompt_is_without_pointing_at_issues() -> None:
    """Its readers have the file, not the tracker: "the host before issue 10" told them nothing."""
    text = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    assert re.search(r"(?i)\bissue\s*#?\d", text) is None
    comment = text.split("host_prompt:")[0].rsplit("\n\n", 1)[-1]
    assert all(f"{name} (" in comment for name in VARIANTS)  # each variant named, with what it is


def test_empty_file_and_no_file_give_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), {}).model_service.port == 8000
    assert load_config(None).game.recent_puzzles == 10


def test_env_interpolation_with_defaults_and_escapes() -> None:
    environ = {"HOST": "db", "EMPTY": ""}
    data = {
        "a": "${HOST}",
        "b": "redis://${HOST}:${PORT:-6379}/0",
        "c": ["${MISSING:-x}", "$${HOST}"],
        "d": "${EMPTY:-fallback}",
        "e": 5,
    }
    assert interpolate(data, environ) == {"a": "db", "b": "redis://db:6379/0", "c": ["x", "${HOST}"], "d": "", "e": 5}


def test_interpolated_numbers_are_converted(tmp_path: Path) -> None:
    path = write(tmp_path, "model_service:\n  port: ${PORT}\nstream: {edit_interval: '${EVERY:-0.5}'}\n")
    config = load_config(path, {"PORT": "9001"})
    assert config.model_service.port == 9001
    assert config.stream.edit_interval == 0.5


def test_unset_variable_inside_a_string_names_key_and_variable(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "redis:\n  url: redis://${REDIS_HOST}:6379\n"))
    assert str(tmp_path / "config.yaml") in message
    assert "redis.url" in message and "REDIS_HOST" in message


def test_missing_required_token_names_the_variable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "discord:\n  token: ${DISCORD_TOKEN}\n"), {})
    assert config.discord.token is None
    with pytest.raises(ConfigError) as caught:
        config.require("discord.token")
    message = str(caught.value)
    assert "config.yaml: discord.token: a value is required" in message
    assert "DISCORD_TOKEN" in message


def test_required_value_missing_without_variable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "discord: {}\n"), {})
    with pytest.raises(ConfigError, match=r"discord\.token: a value is required$"):
        config.require("discord.token")


def test_unknown_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "game:\n  default_langauge: zh\n"))
    assert "game.default_langauge: unknown key" in message
    assert "default_language" in message


def test_unknown_section(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "discrod:\n  token: x\n"))
    assert "discrod: unknown key" in message and "discord" in message


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("model_service:\n  port: eighty\n", "model_service.port", "integer"),
        ("model_service:\n  port: 70000\n", "model_service.port", "less than or equal to 65535"),
        ("game:\n  default_language: fr\n", "game.default_language", "'en' or 'zh'"),
        ("game:\n  puzzle_files: packs.yaml\n", "game.puzzle_files", "list"),
        ("stream:\n  edit_interval: 0\n", "stream.edit_interval", "greater than or equal to 0.2"),
        ("stream:\n  first_post_wait: 3\n", "stream.first_post_wait", "less than or equal to 2"),
        ("model_service:\n  chatglm: {quantize: 3}\n", "model_service.chatglm.quantize", "4 or 8"),
        ("model_service:\n  backend: llama\n", "model_service.backend", "'openai' or 'chatglm'"),
        ("redis: redis://x\n", "redis", "mapping"),
        ("discord:\n  guild_ids: [abc]\n", "discord.guild_ids.0", "integer"),
    ],
)
def test_wrong_types_and_values_name_key_and_expectation(tmp_path: Path, text: str, key: str, expected: str) -> None:
    message = error_of(write(tmp_path, text))
    assert f"{key}:" in message
    assert expected in message


def test_several_errors_are_all_reported(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "model_service:\n  port: x\ngame:\n  recent_puzzles: -1\n"))
    assert "model_service.port" in message and "game.recent_puzzles" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "top level must be a mapping" in error_of(write(tmp_path, "- a\n- b\n"))


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "discord:\n  token: [unclosed\nredis: {}\n"))
    assert "config.yaml: line" in message and "invalid YAML" in message


def test_missing_file_says_how_to_start(tmp_path: Path) -> None:
    assert "file not found" in error_of(tmp_path / "nope.yaml")


def test_reserved_internal_names_are_not_keys(tmp_path: Path) -> None:
    assert "source: unknown key" in error_of(write(tmp_path, "source: x\n"))


def test_a_section_with_every_key_commented_out_means_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "game:\n  # default_language: zh\nstream:\n"), {})
    assert config.game.default_language == "en" and config.stream.edit_interval == 1.0
