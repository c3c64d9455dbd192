"""The real model server, started once for the tests that need it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.realmodel.llama_server import LlamaServer, smollm2_gguf


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(smollm2_gguf(), tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()
