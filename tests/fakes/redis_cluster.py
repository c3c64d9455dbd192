"""A real three-node Redis Cluster on loopback, for tests of the bot on a cluster."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.fakes.redis_server import RedisServer, free_port

NODES = 3


class RedisCluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports = [_free_node_port() for _ in range(NODES)]
        self.nodes: list[RedisServer] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> RedisCluster:
        cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
        self.nodes = [RedisServer(self.folder / str(port), port, cluster_args).start() for port in self.ports]
        subprocess.run(
            [
                shutil.which("redis-cli") or "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        _wait_for(self._ready)
        return self

    def _ready(self) -> bool:
        with redis.Redis(port=self.ports[0], decode_responses=True) as client:
            return client.cluster("info")["cluster_state"] == "ok"

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _free_node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too."""
    for _ in range(100):
        port = random.randint(20000, 29999)
        if all(_is_free(candidate) for candidate in (port, port + 10000)):
            return port
    return free_port()


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for(check: Callable[[], bool], within: float = 15) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the Redis Cluster did not come up")
        time.sleep(0.1)
