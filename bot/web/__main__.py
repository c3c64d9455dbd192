"""`python -m bot.web --config FILE [--host H] [--port N]`: serve the browser page."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.game.puzzles import PuzzleError
from common.config import ConfigError, load_config, port_number

log = logging.getLogger("bot.web")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.web", description="Play turtle soup in the browser.")
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    parser.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    # The same range as web.port: uvicorn would announce an out-of-range port yet bind a random one.
    parser.add_argument("--port", type=port_number, help="port to listen on (default: web.port, 7860)")
    args = parser.parse_args(argv)
    # Gradio phones home for analytics and version checks unless told not to; this page never should.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        config = load_config(args.config)
        if config.web.auth == "secret":
            config.require("web.secret")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = args.host or config.web.host
    port = config.web.port if args.port is None else args.port
    if config.web.auth == "none" and host not in LOOPBACK:
        log.warning("serving on %s with web.auth: none: anyone who reaches this address can play", host)

    import uvicorn  # after the config is known to be good: importing Gradio takes seconds

    from bot.web.app import create_app

    try:
        app = create_app(config)
    except PuzzleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Play in the browser: http://{'localhost' if host in LOOPBACK else host}:{port}/", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
