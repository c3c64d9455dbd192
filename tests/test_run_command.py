"""`make run` as a new user meets it: missing token, bad config."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_run(env: dict[str, str], config: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    command = ["make", "-s", "run"] + ([f"CONFIG={config}"] if config else [])
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    return result, time.monotonic() - started


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "OPENAI_API_KEY", "MODEL_BACKEND")}
    return {**env, **extra}


def test_no_token_stops_within_seconds_saying_how_to_get_one() -> None:
    result, seconds = make_run(clean_env())
    assert result.returncode != 0
    assert seconds < 10
    message = result.stderr
    assert "DISCORD_TOKEN is not set" in message
    assert "https://discord.com/developers/applications" in message
    assert "scope=bot+applications.commands&permissions=" in message
    assert "Message Content Intent" in message


def test_bad_config_names_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("discord: {token: abc}\nstream: {edit_interval: often}\n", encoding="utf-8")
    result, _ = make_run(clean_env(), str(config))
    assert result.returncode != 0
    assert f"{config}: invalid configuration" in result.stderr
    assert "stream.edit_interval" in result.stderr


def test_missing_openai_key_says_how_to_point_at_a_model(tmp_path: Path, redis_url: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"discord: {{token: abc}}\nredis: {{url: '{redis_url}'}}\nmodel_service: {{port: 1}}\n"
        "model: {base_url: 'http://127.0.0.1:1/v1'}\n",
        encoding="utf-8",
    )
    result, _ = make_run(clean_env(), str(config))
    assert result.returncode != 0
    assert "model_service.openai.api_key is not set (OPENAI_API_KEY)" in result.stderr
    assert "model_service.backend: chatglm" in result.stderr
