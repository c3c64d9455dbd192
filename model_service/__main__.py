"""`python -m model_service --config FILE`: validate the config, load the backend, serve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING

import uvicorn

from common.config import Config, ConfigError, ModelServiceConfig, load_config, port_number

if TYPE_CHECKING:
    from model_service.backends.base import Backend

log = logging.getLogger("model_service")

EXIT_CONFIG = 2
EXIT_START = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model_service", description=__doc__)
    parser.add_argument("--config", help="YAML config file (section model_service); defaults apply without one")
    parser.add_argument("--host", help="override model_service.host")
    # The same range as model_service.port: uvicorn would log an out-of-range port yet bind a random one.
    parser.add_argument("--port", type=port_number, help="override model_service.port")
    return parser.parse_args(argv)


def read_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if config.model_service.backend == "openai":
        config.require("model_service.openai.api_key")
    if args.host:
        config.model_service.host = args.host
    if args.port is not None:
        config.model_service.port = args.port
    return config


def configure_logging(level: str, secrets: list[str | None]) -> None:
    from model_service.server import RedactingFilter

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)


async def serve(config: ModelServiceConfig, server: uvicorn.Server, backend: Backend) -> int:
    from model_service.backends.base import BackendStartError

    try:
        # Load before listening: a model that cannot load stops start-up with one clear line.
        await backend.start()
    except BackendStartError as error:
        log.error("cannot start the %s backend: %s", config.backend, error)
        return EXIT_START
    await server.serve()
    return 0 if server.started else EXIT_START


def run(config: ModelServiceConfig) -> int:
    from model_service.app import create_app
    from model_service.backends import make_backend
    from model_service.backends.base import BackendStartError
    from model_service.server import uvicorn_config

    try:
        backend = make_backend(config)
    except BackendStartError as error:
        log.error("cannot start the %s backend: %s", config.backend, error)
        return EXIT_START
    settings = uvicorn_config(create_app(config, backend=backend), config.host, config.port)
    # uvicorn's loop factory: uvloop when it is installed, as `uvicorn.run` would use.
    with asyncio.Runner(loop_factory=settings.get_loop_factory()) as runner:
        return runner.run(serve(config, uvicorn.Server(settings), backend))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = read_config(args)
    except ConfigError as error:
        print(f"model service: {error}", file=sys.stderr)
        return EXIT_CONFIG
    service = config.model_service
    configure_logging(config.logging.level, [service.api_key, service.openai.api_key])
    return run(service)


if __name__ == "__main__":
    sys.exit(main())
