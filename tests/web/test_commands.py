"""`make web` and `python -m bot.web` as a newcomer meets them: no Discord token needed, the same
checks as `make run`, and a config mistake named before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_run_command import REPO, clean_env


def test_make_web_needs_no_discord_token_and_says_how_to_point_at_a_model(tmp_path: Path, redis_url: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"discord: {{token: '${{DISCORD_TOKEN}}'}}\nredis: {{url: '{redis_url}'}}\nmodel_service: {{port: 1}}\n"
        "model: {base_url: 'http://127.0.0.1:1/v1'}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        ["make", "-s", "web", f"CONFIG={config}"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DISCORD_TOKEN" not in result.stderr  # the page needs no Discord application
    assert "model_service.openai.api_key is not set (OPENAI_API_KEY)" in result.stderr


def test_a_secret_page_without_a_secret_names_the_key_and_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("web: {auth: secret, secret: '${WEB_SECRET}'}\n", encoding="utf-8")
    env = {key: value for key, value in clean_env().items() if key != "WEB_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.web", "--config", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{config}: web.secret: a value is required" in result.stderr
    assert "WEB_SECRET" in result.stderr
