"""The bot's Redis client: its writes are bounded by asyncio.timeout (no task per command on Python 3.11), with
the same bound and the same error as redis-py's own; against a real redis-server and a server that stops reading."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from bot.redis_client import connect
from common.config import RedisConfig


async def test_commands_go_through_and_each_kind_of_url_keeps_its_connection(redis_url: str) -> None:
    client = connect(RedisConfig(url=redis_url))
    try:
        await client.set("bounded:key", "value")
        assert await client.get("bounded:key") == "value"
        assert issubclass(client.connection_pool.connection_class, aioredis.Connection)
    finally:
        await client.aclose()
    unix = connect(RedisConfig(url="unix:///tmp/not-started.sock"))
    assert issubclass(unix.connection_pool.connection_class, aioredis.UnixDomainSocketConnection)
    await unix.aclose()


async def test_a_write_the_server_never_reads_times_out_and_drops_the_connection() -> None:
    stalled, done = asyncio.Event(), asyncio.Event()

    async def answer_then_stop_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answers the handshake's commands and PINGs, then reads nothing more once a SET begins: the client's
        # socket buffers fill and its write waits.
        while header := await reader.readline():
            await reader.readline()  # the command name's length
            name = (await reader.readline()).strip().upper()
            if name == b"SET":
                stalled.set()
                await done.wait()
                break
            for _ in range(int(header[1:]) - 1):
                await reader.readline()
                await reader.readline()
            replies = {b"PING": b"+PONG\r\n", b"HELLO": b"%1\r\n$5\r\nproto\r\n:3\r\n"}  # RESP3, as redis-py asks
            writer.write(replies.get(name, b"+OK\r\n"))
        writer.close()

    server = await asyncio.start_server(answer_then_stop_reading, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = connect(RedisConfig(url=f"redis://127.0.0.1:{port}/0"))
    client.connection_pool.connection_kwargs["socket_timeout"] = 0.5
    try:
        with pytest.raises(redis.exceptions.TimeoutError, match="writing"):
            await client.set("big", "x" * 64_000_000)
        assert stalled.is_set()
        [connection] = client.connection_pool._available_connections  # back in the pool, disconnected
        assert not connection.is_connected
    finally:
        done.set()
        await client.aclose()
        server.close()
        await server.wait_closed()
