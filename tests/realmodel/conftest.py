"""The real model server, started once for the tests that need it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.redis_server import free_port
from tests.realmodel.llama_server import MODEL_ALIAS, LlamaServer, smollm2_gguf


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(smollm2_gguf(), tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def relay(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m model_service` (backend openai) relaying to the llama.cpp server; yields its base url."""
    port = free_port()
    folder = tmp_path_factory.mktemp("relay")
    config = folder / "service.yaml"
    config.write_text(
        f"model_service:\n  port: {port}\n  api_key: service-key\n  first_token_timeout: 60\n"
        f"  openai: {{base_url: '{llama_server.base_url}', api_key: unused, model: {MODEL_ALIAS}}}\n",
        encoding="utf-8",
    )
    with (folder / "service.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "model_service", "--config", str(config)], stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the model service did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)
