"""`python -m bot --config FILE`: run the Discord bot."""

from __future__ import annotations

import argparse
import logging
import sys

import discord

from bot.game.puzzles import PuzzleError
from common.config import ConfigError, load_config

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Run the turtle-soup Discord bot.")
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        config.require("discord.token")
        from bot.app import create_bot

        bot = create_bot(config)
    except (ConfigError, PuzzleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    discord.utils.setup_logging(level=getattr(logging, config.logging.level))
    assert config.discord.token is not None
    try:
        bot.run(config.discord.token, log_handler=None)
    except discord.LoginFailure:
        print(
            f"error: {config.source}: discord.token: Discord refused the token; reset it in the Developer "
            "Portal (Bot -> Reset Token) and set DISCORD_TOKEN again",
            file=sys.stderr,
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        print(
            "error: enable the Message Content Intent: Developer Portal -> your app -> Bot -> Privileged "
            "Gateway Intents",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
