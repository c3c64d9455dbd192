"""`make run`: check what the stack needs, start what is missing (Redis, the model service), run the bot
(`make web`: the browser page instead).

Every problem stops here with a message saying what to do, before anything logs in to Discord.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from discord_help import GUIDE

from common.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = ROOT / "run"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MODEL_READY_TIMEOUT = {"openai": 30, "chatglm": 900}
SURFACES = {"bot": "bot", "web": "bot.web"}  # what to run: the Discord bot, or the browser page

MODEL_HELP = """\
The bot needs an OpenAI-compatible model endpoint at model.base_url ({url}).
  - To relay to OpenAI through the model service: export OPENAI_API_KEY='sk-...' and run `make run` again.
  - Any OpenAI-compatible server works too (vLLM, Ollama, GLM's API): set model_service.openai.base_url
    and model_service.openai.model, or point model.base_url straight at it.
  - For a local ChatGLM-6B: set model_service.backend: chatglm (or export MODEL_BACKEND=chatglm);
    `make run` then installs torch and transformers. See docs/MODEL_SERVICE.md for memory and downloads.
"""


def fail(message: str) -> None:
    print(f"error: {message.rstrip()}", file=sys.stderr)
    sys.exit(2)


async def redis_answers(url: str) -> bool:
    client = aioredis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


def ensure_redis(config: Config, children: list[subprocess.Popen[bytes]]) -> None:
    url = config.redis.url
    if asyncio.run(redis_answers(url)):
        return
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS:
        fail(f"{config.source}: redis.url: nothing answers at {url}; start that Redis or point redis.url at one")
    binary = shutil.which("redis-server")
    if binary is None:
        fail(
            "redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server), "
            "or set REDIS_URL to a Redis you have."
        )
    RUN_DIR.mkdir(exist_ok=True)
    port = str(parsed.port or 6379)
    print(f"==> starting redis-server on port {port} (data in run/, append-only)")
    children.append(
        subprocess.Popen(
            [binary, "--port", port, "--bind", "127.0.0.1", "--dir", str(RUN_DIR), "--appendonly", "yes"],
            stdout=subprocess.DEVNULL,
        )
    )
    deadline = time.monotonic() + 10
    while not asyncio.run(redis_answers(url)):
        if time.monotonic() > deadline or children[-1].poll() is not None:
            fail(f"redis-server did not start on port {port}; is the port taken?")
        time.sleep(0.2)


def uses_our_model_service(config: Config) -> bool:
    target = urlparse(config.model.base_url)
    service = config.model_service
    same_host = target.hostname in LOCAL_HOSTS and service.host in LOCAL_HOSTS | {"0.0.0.0"}
    return same_host and (target.port or 80) == service.port


def model_ready(config: Config) -> bool:
    base = config.model.base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {config.model.api_key}"} if config.model.api_key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/models", headers=headers), timeout=3) as reply:
            return reply.status == 200
    except (OSError, ValueError):  # refused, timed out, HTTP error, or a malformed URL
        return False


def ensure_model(config: Config, config_path: str, children: list[subprocess.Popen[bytes]]) -> None:
    if not uses_our_model_service(config):
        if not model_ready(config):
            fail(
                f"{config.source}: model.base_url: no OpenAI-compatible endpoint answers GET /models.\n"
                + MODEL_HELP.format(url=config.model.base_url)
            )
        return
    service = config.model_service
    if model_ready(config):
        return
    if service.backend == "openai" and not service.openai.api_key:
        fail(
            f"{config.source}: model_service.openai.api_key is not set (OPENAI_API_KEY).\n"
            + MODEL_HELP.format(url=config.model.base_url)
        )
    print(f"==> starting the model service ({service.backend} backend) on {service.host}:{service.port}")
    children.append(subprocess.Popen([sys.executable, "-m", "model_service", "--config", config_path]))
    deadline = time.monotonic() + MODEL_READY_TIMEOUT[service.backend]
    while not model_ready(config):
        if children[-1].poll() is not None:
            fail("the model service stopped during start-up (its message is above)")
        if time.monotonic() > deadline:
            fail("the model service did not become ready in time")
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--surface", choices=SURFACES, default="bot", help="the Discord bot, or the browser page")
    args = parser.parse_args()
    try:
        config = load_config(args.config)
    except ConfigError as error:
        fail(str(error))
    if args.surface == "bot" and not config.discord.token:
        print(GUIDE.format(config=args.config), file=sys.stderr, end="")
        return 2
    children: list[subprocess.Popen[bytes]] = []
    try:
        ensure_redis(config, children)
        ensure_model(config, args.config, children)
        print(f"==> starting python -m {SURFACES[args.surface]}")
        bot = subprocess.Popen([sys.executable, "-m", SURFACES[args.surface], "--config", args.config])
        children.append(bot)
        signal.signal(signal.SIGTERM, lambda *_: bot.terminate())
        return bot.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()


if __name__ == "__main__":
    sys.exit(main())
