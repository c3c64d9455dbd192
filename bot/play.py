"""`python -m bot.play --config FILE [--language zh]`: play in the terminal, like the seed's CLI demo.

Same engine as the Discord cog (GameService over Redis and the model endpoint); only the
drawing differs: the host's reply is printed as it streams. `finish` reveals the answer and
starts a new puzzle, `stop` quits. Every reveal (solved, a limit reached, `finish`, `stop`) comes with
the end-of-game summary the other surfaces show.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import secrets
import sys
import threading
from collections.abc import Mapping
from contextlib import aclosing
from typing import Any, TextIO

import redis.exceptions

from bot.endings import limit_notice, summary_lines
from bot.game.assembly import build_games, load_configured_bank
from bot.game.host import ModelHost
from bot.game.puzzles import PuzzleError
from bot.game.session import GameError, GameService, HostReply, NoActiveGame, Outcome, Player
from bot.game.store import Game
from bot.redis_client import connect
from bot.texts import format_reply, text
from common.config import Config, ConfigError, load_config

FINISH, STOP = "finish", "stop"
TERMINAL_GAME_TTL = 3600
NO_GAME = "Type `finish` for a new puzzle or `stop` to quit."
# `stop` once the game has already ended (solved, or a limit revealed it): nothing left to reveal.
NOTHING_TO_STOP = {
    "en": "No game is running: this one has already ended. Bye!",
    "zh": "没有进行中的游戏：本局已经结束。再见！",
}
BANNER = {
    "en": "Ask yes/no questions. Type `finish` to reveal the answer and start a new puzzle, `stop` to quit.",
    "zh": "请提出可以用是/否回答的问题。输入 finish 揭晓汤底并开始新的一题，输入 stop 退出。",
}


class TerminalGame:
    def __init__(self, games: GameService, language: str, out: TextIO) -> None:
        self.games = games
        self.language = language
        self.out = out
        # A channel of its own per terminal session, never a Discord id (those are positive);
        # random rather than the process id, which is 1 in every container.
        self.channel = -secrets.randbelow(2**62) - 1
        self.player = Player(0, getpass.getuser())

    def say(self, line: str = "") -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def show_story(self, game: Game) -> None:
        self.say(f"\n== {game.title} ==\n{game.story}\n")
        self.say(BANNER[game.language])

    async def reveal(self, game: Game, found: Mapping[int, Any] | None = None) -> None:
        """The answer, then the engine's end-of-game summary (the one player here is named as themselves)."""
        self.say(f"\n{text(game.language, 'reveal_title', title=game.title)}\n{game.answer}\n")
        lines = summary_lines(await self.games.summarise(game, found), game.language, name=lambda _: self.player.name)
        # The texts are Discord markdown; bold markers are only noise in a terminal.
        self.say("\n".join([text(game.language, "summary_title"), *lines]).replace("**", ""))

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        self.show_story(await self.games.start(self.channel, self.player, self.language))
        while True:
            line = await lines.get()
            if line is None or line.strip().lower() == STOP:
                await self.stop()
                return
            if line.strip().lower() == FINISH:
                revealed, game = await self.games.new_game(self.channel, self.player, self.language)
                if revealed is not None:
                    # Its found facts were read before it was replaced; the new game has none.
                    await self.reveal(revealed, revealed.found)
                self.show_story(game)
            elif line.strip():
                await self.ask(line)

    async def stop(self) -> None:
        try:
            game = await self.games.stop(self.channel, self.player)
        except NoActiveGame:
            self.say(NOTHING_TO_STOP[self.language])
            return
        await self.reveal(game)

    async def ask(self, question: str) -> None:
        printed = ""
        final: HostReply | None = None
        thinking_shown = False
        try:
            async with aclosing(self.games.ask(self.channel, self.player, question)) as replies:
                async for reply in replies:
                    final = reply
                    if reply.thinking is not None and not thinking_shown and not printed:
                        # A reasoning model is thinking: said once (the thought itself is never shown).
                        thinking_shown = True
                        language = reply.game.language if reply.game else self.language
                        self.say(text(language, "thinking_model").replace("*", ""))
                    if reply.outcome is Outcome.STREAMING and reply.text.startswith(printed):
                        self.out.write(reply.text[len(printed) :])
                        self.out.flush()
                        printed = reply.text
        except NoActiveGame:
            self.say(NO_GAME)
            return
        except GameError as error:
            self.say(f"({error})")
            return
        if final is None:
            return
        if printed:
            self.say()  # end the streamed line
        if (
            not printed
            or final.text.strip() != printed.strip()
            or final.outcome not in (Outcome.ANSWERED, Outcome.SOLVED)
        ):
            self.say(format_reply(final, final.game.language if final.game else self.language))
        await self.announce(final)

    async def announce(self, final: HostReply) -> None:
        """Reveal a game this question ended: solved, or a limit reached (its last allowed answer, or
        a question asked after its time ran out), as the cog's `_announce` does."""
        game = final.game
        if game is None or not (final.outcome is Outcome.SOLVED or final.ended):
            return
        if final.ended:
            self.say(f"\n{limit_notice(game)}")
        await self.reveal(game)
        self.say(f"\n{NO_GAME}")


def start_reader(source: TextIO, lines: asyncio.Queue[str | None]) -> None:
    """Feed stdin lines to the game from a daemon thread, so a pending read never blocks exit."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in iter(source.readline, ""):
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()


async def play(config: Config, language: str, source: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    bank = load_configured_bank(config)
    client = connect(config.redis, config.game.max_questions_in_flight)
    host = ModelHost(config.model)
    # One player at a keyboard: no flood to guard against, so no cooldown between questions;
    # and a terminal game is not worth keeping for days.
    config = config.model_copy(update={"game": config.game.model_copy(update={"question_cooldown": 0})})
    games = build_games(config, client, host, bank, ttl_seconds=TERMINAL_GAME_TTL)
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    start_reader(source, lines)
    try:
        await TerminalGame(games, language, out).run(lines)
    finally:
        await host.close()
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.play", description="Play a turtle-soup puzzle here.")
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    parser.add_argument("--language", choices=("en", "zh"), help="puzzle language (default: game.default_language)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    try:
        config = load_config(args.config)
        asyncio.run(play(config, args.language or config.game.default_language))
    except (ConfigError, PuzzleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except redis.exceptions.ConnectionError:
        print(
            f"error: cannot reach Redis at {config.redis.url} (redis.url): start redis-server or `make run`",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
