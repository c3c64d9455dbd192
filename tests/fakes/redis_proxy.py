"""A TCP proxy in front of the test redis-server that can hold one command, for race and latency tests.

The bot talks real RESP to the proxy; the proxy forwards every byte unchanged, except that a command
matching an armed `Hold` (and whatever that connection sends after it) waits until the test releases
it. The test can then act in the gap: change the game behind the bot's back, or move SimCord's clock
as a slow Redis would. It runs on its own thread and event loop, like the fake upstream, so it is real
I/O from the bot's point of view and unaffected by SimCord's virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Command = list[bytes]


def script_call(command: Command) -> bool:
    """EVAL or EVALSHA: how the game store changes a game."""
    return bool(command) and command[0].upper() in (b"EVAL", b"EVALSHA")


@dataclass
class Hold:
    """Holds the first command that matches, until released."""

    matches: Callable[[Command], bool]
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    command: Command | None = None

    async def wait_reached(self, timeout: float = 10.0) -> Command:  # noqa: ASYNC109
        """Wait (without blocking the caller's loop) until the bot sent the held command."""
        deadline = time.perf_counter() + timeout
        while not self.reached.is_set():
            if time.perf_counter() > deadline:
                raise TimeoutError("the bot never sent the command this hold waits for")
            await asyncio.sleep(0.01)
        assert self.command is not None
        return self.command

    def release(self) -> None:
        self.released.set()


def _parse_command(buffer: bytes) -> tuple[Command, int] | None:
    """One RESP array of bulk strings from the start of `buffer`, and its length; None when incomplete."""
    if not buffer.startswith(b"*"):
        end = buffer.find(b"\r\n")  # an inline command (redis-cli style)
        return None if end < 0 else (buffer[:end].split(), end + 2)
    end = buffer.find(b"\r\n")
    if end < 0:
        return None
    count, position, parts = int(buffer[1:end]), end + 2, []
    for _ in range(count):
        end = buffer.find(b"\r\n", position)
        if end < 0:
            return None
        size = int(buffer[position + 1 : end])
        start = end + 2
        if len(buffer) < start + size + 2:
            return None
        parts.append(buffer[start : start + size])
        position = start + size + 2
    return parts, position


class RedisProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.holds: list[Hold] = []
        self._taken: list[Hold] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def hold(self, matches: Callable[[Command], bool]) -> Hold:
        """Arm a hold for the next command that `matches` (on any connection)."""
        hold = Hold(matches)
        with self._lock:
            self.holds.append(hold)
        return hold

    def release_all(self) -> None:
        with self._lock:
            for hold in self.holds + self._taken:
                hold.release()
            self.holds.clear()

    def _take_hold(self, command: Command) -> Hold | None:
        with self._lock:
            for hold in self.holds:
                if hold.matches(command):
                    self.holds.remove(hold)
                    self._taken.append(hold)
                    hold.command = command
                    return hold
        return None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> RedisProxy:
        started = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="redis-proxy", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the Redis proxy did not start")
        return self

    def stop(self) -> None:
        self.release_all()
        loop = self._loop
        assert loop is not None and self._thread is not None

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()

    # -- forwarding ----------------------------------------------------------------------

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.update((client_writer, server_writer))
        replies = asyncio.ensure_future(self._pipe(server_reader, client_writer))
        try:
            await self._forward_commands(client_reader, server_writer)
        finally:
            replies.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replies
            for writer in (client_writer, server_writer):
                self._writers.discard(writer)
                writer.close()

    async def _forward_commands(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        while chunk := await reader.read(65536):
            buffer += chunk
            while (parsed := _parse_command(buffer)) is not None:
                command, size = parsed
                raw, buffer = buffer[:size], buffer[size:]
                hold = self._take_hold(command)
                if hold is not None:
                    hold.reached.set()
                    await asyncio.to_thread(hold.released.wait)
                writer.write(raw)
                await writer.drain()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
