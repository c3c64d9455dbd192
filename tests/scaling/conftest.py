"""The scaling tests' fixtures: a real three-node Redis Cluster, one per test module, as each module's keys
and scripts are checked on a cluster of their own; and a second bot process beside the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.config import Config
from tests.bot_fixtures import Table
from tests.fakes.redis_cluster import RedisCluster
from tests.scaling.test_two_bot_processes import OtherProcess


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    cluster = RedisCluster(Path(tmp_path_factory.mktemp("cluster"))).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def other_process(bot_settings: Config, table: Table) -> Iterator[OtherProcess]:
    """Another instance of the bot, in a thread with its own event loop, on the same Redis and guild."""
    process = OtherProcess(bot_settings)
    process.start()
    yield process
    process.stop()
