"""`python -m bot.web` as a real process on the fake upstream and a real redis-server, and a
headless Chromium from the OS packages (never a browser Playwright downloads) to drive it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.fakes.redis_server import RedisServer, free_port
from tests.fakes.upstream import FakeUpstream

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 120  # importing Gradio is slow on a busy 2-core machine
SECRET = "open-sesame"

# Two English puzzles (so `New puzzle` visibly changes the story), with key facts and a stored hint, and one Chinese.
PACK = """\
puzzles:
  - id: web-albatross
    language: en
    title: The Seaside Restaurant
    story: >-
      A man orders albatross soup at a seaside restaurant. He tastes one spoonful, pays, walks out,
      and that night he takes his own life.
    answer: >-
      Years before, he was shipwrecked on a desert island with his wife, who died there. The other
      castaways fed him a soup they called albatross; it was really made from her. Tasting real
      albatross, he understood what he had eaten.
    key_facts:
      - He had been shipwrecked on a desert island.
      - The soup he was fed there was made from his dead wife.
    hints:
      - Think about a voyage that went wrong long ago.
  - id: web-elevator
    language: en
    title: The Elevator
    story: >-
      A man on the tenth floor rides the elevator down every morning. Coming home he rides it only
      to the seventh floor and climbs the stairs, except on rainy days.
    answer: >-
      He is too short to reach the button for the tenth floor. On rainy days he presses it with the
      tip of his umbrella.
    key_facts:
      - He is too short to reach the highest button.
      - An umbrella lets him press the button.
    hints:
      - Think about how tall the man is.
  - id: web-tunnel
    language: zh
    title: 隧道
    story: 一个男人坐火车回家，火车进了隧道，他在黑暗中跳下了火车。
    answer: 他刚做完眼睛手术，以为自己又失明了，绝望之下跳了车。
"""


@dataclass
class WebServer:
    url: str
    process: subprocess.Popen[str]
    gradio_cache: Path  # GRADIO_TEMP_DIR: where Gradio would keep uploads and its own files


def _config(folder: Path, redis_url: str, upstream: FakeUpstream, web: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(PACK, encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(
        f"redis: {{url: '{redis_url}'}}\n"
        f"model: {{base_url: '{upstream.base_url}', api_key: k, max_retries: 0, first_token_timeout: 5}}\n"
        "game: {puzzle_files: [pack.yaml], include_builtin: false, question_cooldown: 0}\n"
        f"web: {web}\n"
        "logging: {level: WARNING}\n",
        encoding="utf-8",
    )
    return config


def _launch(config: Path, log: Path) -> WebServer:
    port = free_port()
    cache = config.parent / "gradio-cache"
    cache.mkdir(exist_ok=True)
    with log.open("w") as output:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.web", "--config", str(config), "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "GRADIO_TEMP_DIR": str(cache)},
        )
    return WebServer(f"http://127.0.0.1:{port}/", process, cache)


def _wait_ready(server: WebServer, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"python -m bot.web exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"python -m bot.web did not answer within {STARTUP_SECONDS}s: {log.read_text()}")


def _stop(server: WebServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def web_servers(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, upstream_server: FakeUpstream
) -> Iterator[tuple[WebServer, WebServer]]:
    """An open page and one behind the shared secret, started side by side to save a start-up."""
    folder = tmp_path_factory.mktemp("web")
    logs = folder / "open.log", folder / "secret.log"
    open_server = _launch(_config(folder / "open", redis_server.url, upstream_server, "{}"), logs[0])
    secret_config = _config(folder / "secret", redis_server.url, upstream_server, f"{{auth: secret, secret: {SECRET}}}")
    secret_server = _launch(secret_config, logs[1])
    try:
        _wait_ready(open_server, logs[0])
        _wait_ready(secret_server, logs[1])
        yield open_server, secret_server
    finally:
        _stop(open_server)
        _stop(secret_server)


@pytest.fixture
def web_url(web_servers: tuple[WebServer, WebServer], fake_upstream: FakeUpstream) -> str:
    return web_servers[0].url


@pytest.fixture
def secret_url(web_servers: tuple[WebServer, WebServer], fake_upstream: FakeUpstream) -> str:
    return web_servers[1].url


# Module scope, not session: while Playwright's sync API runs, the thread counts as inside an
# event loop, and the async tests of other modules could not start theirs.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Playwright starts it with a fresh --user-data-dir of its own (it refuses one passed in args)."""
    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs the chromium Debian package")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture
def artifacts() -> Path:
    """Kept after the run (build/ is ignored by git): docs/images/web.png is copied from here."""
    folder = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
