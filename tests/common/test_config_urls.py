"""URL settings are checked at start-up like every other key: redis.url, model.base_url and the
model service's upstream base_url, whether written in the file or given by an environment override."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.yaml"


def error_of(path: Path, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ)
    return str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "key", "expected"),
    [
        ("REDIS_URL", "notaurl", "redis.url", "must start with redis://, rediss:// or unix://"),
        ("REDIS_URL", "http://127.0.0.1:6379/0", "redis.url", "must start with redis://"),
        ("REDIS_URL", "redis://127.0.0.1:notaport/0", "redis.url", "not a valid url: its port is not a number"),
        ("REDIS_URL", "unix://", "redis.url", "needs the socket's path"),
        ("MODEL_BASE_URL", "127.0.0.1:8101/v1", "model.base_url", "must be an http:// or https:// url with a host"),
        ("MODEL_BASE_URL", "localhost:8101/v1", "model.base_url", "must be an http:// or https:// url"),
        ("MODEL_BASE_URL", "http:///v1", "model.base_url", "with a host"),
        ("MODEL_BASE_URL", "http://127.0.0.1:99999/v1", "model.base_url", "its port is not a number from 0 to 65535"),
        ("OPENAI_BASE_URL", "api.openai.com/v1", "model_service.openai.base_url", "must be an http:// or https://"),
    ],
)
def test_a_bad_url_from_the_environment_is_named_with_its_key(
    variable: str, value: str, key: str, expected: str
) -> None:
    message = error_of(EXAMPLE, {variable: value})
    line = next(line for line in message.splitlines() if line.startswith(f"  {key}: "))
    assert expected in line and line.endswith(f"(got {value!r})")


def test_a_bad_url_written_in_the_file_is_named_too(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("redis:\n  url: localhost:6379\nmodel:\n  base_url: 127.0.0.1:8101/v1\n", encoding="utf-8")
    message = error_of(path, {})
    assert "redis.url: must start with" in message and "model.base_url: must be an http://" in message


def test_a_cluster_is_not_reached_over_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("redis:\n  url: unix:///run/redis.sock\n  cluster: true\n", encoding="utf-8")
    assert "url must be redis:// or rediss://" in error_of(path, {})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_URL", "rediss://:pw@cache.example:6380/2"),
        ("REDIS_URL", "unix:///run/redis/redis.sock?db=1"),
        ("MODEL_BASE_URL", "https://api.example.com/v1"),
        ("MODEL_BASE_URL", "http://[::1]:8000/v1"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
    ],
)
def test_good_urls_are_kept_as_written(variable: str, value: str) -> None:
    config = load_config(EXAMPLE, {variable: value})
    urls = {config.redis.url, config.model.base_url, config.model_service.openai.base_url}
    assert value in urls


def start(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    command = [sys.executable, "-m", module, "--config", str(EXAMPLE)]
    return subprocess.run(
        command, cwd=REPO, env=environ, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("module", ["bot.play", "bot.web", "bot"])
def test_every_program_stops_with_exit_2_on_a_bad_redis_url(module: str) -> None:
    result = start(module, REDIS_URL="notaurl", DISCORD_TOKEN="not-a-token")
    assert result.returncode == 2
    assert "redis.url: must start with redis://, rediss:// or unix://" in result.stderr
    assert "Traceback" not in result.stderr


def test_terminal_play_stops_on_a_model_url_without_a_scheme() -> None:
    result = start("bot.play", MODEL_BASE_URL="127.0.0.1:8101/v1")
    assert result.returncode == 2
    assert "model.base_url: must be an http:// or https:// url with a host" in result.stderr


def test_a_bad_urls_password_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("redis:\n  url: redis://:hunter2@127.0.0.1:port/0\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "redis.url" in message and "hunter2" not in message and "redis://:***@127.0.0.1:port/0" in message


@pytest.mark.parametrize(
    "redis",
    [
        "url: redis://:abc#hunter2@host/0",  # urlsplit's own error would quote part of it
        "url: redis://:hunter@2@host:bad/0",  # an "@" inside the password
        "url: redis://user:hunter/2@host:bad/0",  # a "/" inside it (base64 passwords have them)
        "{url: 'unix:///run/redis.sock?password=hunter2', cluster: true}",  # a check across keys shows the section
    ],
)
def test_no_form_of_password_is_echoed(tmp_path: Path, redis: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"redis: {redis}\n" if redis.startswith("{") else f"redis:\n  {redis}\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "redis" in str(caught.value) and "hunter" not in str(caught.value)
