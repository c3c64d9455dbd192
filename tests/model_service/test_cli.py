"""`python -m model_service`: config errors exit 2 with the loader's message; a good config serves."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from model_service.server import RedactingFilter
from tests.fakes.upstream import FakeUpstream
from tests.model_service.test_openai_backend import closed_port

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    environ.pop("OPENAI_API_KEY", None)
    command = [sys.executable, "-m", "model_service", *args]
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=30)


def test_bad_config_exits_2_with_the_message(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model_service:\n  port: not-a-port\n")
    result = run_cli("--config", str(path))
    assert result.returncode == 2
    assert "model_service.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "file not found" in result.stderr


def test_openai_backend_needs_the_upstream_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model_service:\n  backend: openai\n  openai:\n    api_key: ${OPENAI_API_KEY}\n")
    result = run_cli("--config", str(path))
    assert result.returncode == 2
    assert "model_service.openai.api_key" in result.stderr
    assert "OPENAI_API_KEY" in result.stderr


def test_missing_model_folder_stops_startup_with_advice(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the chatglm backend needs the local extra")
    path = tmp_path / "config.yaml"
    path.write_text(f"model_service:\n  backend: chatglm\n  chatglm:\n    model_path: {tmp_path / 'no-model'}\n")
    result = run_cli("--config", str(path), "--port", str(closed_port()))
    assert result.returncode == 1
    assert "does not exist; download the model with `huggingface-cli download" in result.stderr
    assert "Traceback" not in result.stderr


def test_serves_with_a_good_config(tmp_path: Path, upstream_server: FakeUpstream) -> None:
    port = closed_port()
    path = tmp_path / "config.yaml"
    path.write_text(
        f"model_service:\n  port: {port}\n  api_key: k\n  openai:\n"
        f"    base_url: {upstream_server.base_url}\n    api_key: upstream-secret-value\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "model_service", "--config", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert health.json() == {"status": "ok"}
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": "Bearer k"})
        assert models.json()["data"][0]["id"] == "turtle-host"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "GET /v1/models" in output  # the access log: method, path, status and no headers
    assert "upstream-secret-value" not in output


def test_redacting_filter_hides_bearer_tokens_and_secrets() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "headers %s key %s", ("Bearer abc.def", "s3cret"), None)
    assert RedactingFilter(["s3cret"]).filter(record)
    assert record.getMessage() == "headers Bearer [redacted] key [redacted]"


BAD_PORTS = [("99999", "must be from 0 to 65535"), ("http", "expected a whole number")]


@pytest.mark.parametrize(("port", "expected"), BAD_PORTS)
def test_a_bad_port_option_exits_2_naming_the_option(tmp_path: Path, port: str, expected: str) -> None:
    """Checked like model_service.port in the file; uvicorn would log the port yet bind a random one."""
    path = tmp_path / "config.yaml"
    path.write_text("model_service:\n  openai:\n    api_key: k\n")
    result = run_cli("--config", str(path), "--port", port)
    assert result.returncode == 2
    assert f"error: argument --port: {expected}" in result.stderr
    assert "Uvicorn running" not in result.stderr


def test_an_upstream_url_without_a_scheme_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model_service:\n  openai:\n    base_url: api.openai.com/v1\n    api_key: k\n")
    result = run_cli("--config", str(path), "--port", str(closed_port()))
    assert result.returncode == 2
    assert "model_service.openai.base_url: must be an http:// or https:// url with a host" in result.stderr


def redacted(secrets: list[str], message: str) -> str:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, None, None)
    assert RedactingFilter(secrets).filter(record)
    return record.getMessage()


def test_a_short_secret_does_not_garble_ordinary_words() -> None:
    """Trivial keys (`api_key: ollama`, `x`) are hidden as whole words only."""
    message = "model glm4 does not exist; x-request-id 7, ollama-server at http://127.0.0.1:11434"
    assert redacted(["x", "ollama"], message) == message
    assert redacted(["x", "ollama"], "keys x, ollama.") == "keys [redacted], [redacted]."
    assert redacted(["ollama"], "api_key=ollama&retry=1") == "api_key=[redacted]&retry=1"
    # Right after an escape it is a whole word too: a logged url-encoded body or a bytes repr.
    assert redacted(["ollama-key"], "%22api_key%22%3A%22ollama-key%22") == "%22api_key%22%3A%22[redacted]%22"
    assert redacted(["ollama-key"], "b'\\nollama-key'") == "b'\\n[redacted]'"
    assert redacted(["ollama-key"], "b'\\x0bollama-key \\fkey'") == "b'\\x0b[redacted] \\fkey'"


def test_a_long_secret_is_hidden_even_glued_to_other_text() -> None:
    key = "sk-proj-4f9a2c7e1b"
    assert redacted([key], f"headers 'x-api-key:\\n{key}' and %20{key}x") == (
        "headers 'x-api-key:\\n[redacted]' and %20[redacted]x"
    )


def test_a_secret_containing_another_is_hidden_whole() -> None:
    assert redacted(["abc", "abc-def-ghi-jkl"], "key abc-def-ghi-jkl, key abc") == "key [redacted], key [redacted]"
