"""Relay overhead of the model service's openai backend, and how many concurrent streams it holds.

    .venv/bin/python bench/bench_model_service_relay.py [--requests 200] [--hold 500]

Three processes, as in production: the fake OpenAI-compatible upstream, the model service
(`python -m model_service`) relaying to it, and this client. The same official AsyncOpenAI client
streams either straight from the upstream ("direct") or through the service ("relay"). Each
upstream chunk carries the time it was sent, so per-chunk latency is measured end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import openai  # noqa: E402

from bench.harness import percentile, start_model_service  # noqa: E402

KEY = "bench-key"
CHUNKS = 20
CHUNK_DELAY = 0.005


def serve_upstream() -> None:
    """Child process: the fake upstream, replying as each request's user message asks."""
    from tests.fakes.upstream import FakeUpstream, Reply

    def respond(body: dict[str, Any]) -> Reply:
        spec = json.loads(body["messages"][-1]["content"])
        return Reply(chunks=[f"tok{i} " for i in range(spec["chunks"])], chunk_delay=spec["delay"], stamp=True)

    upstream = FakeUpstream()
    upstream.responder = respond
    upstream.start()
    print(upstream.port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    upstream.stop()


async def one_stream(client: openai.AsyncOpenAI, chunks: int, delay: float) -> tuple[float, list[float]]:
    """(time to first token, [per-chunk latency from upstream send to our receipt])."""
    message = json.dumps({"chunks": chunks, "delay": delay})
    started = time.perf_counter()
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": message}], stream=True
    )
    ttft = None
    latencies = []
    async for chunk in stream:
        now = time.perf_counter()
        content = chunk.choices[0].delta.content if chunk.choices else None
        if not content:
            continue
        ttft = now - started if ttft is None else ttft
        latencies.append(now - float(content.rsplit("@", 1)[1]))
    assert ttft is not None and len(latencies) == chunks
    return ttft, latencies


async def measure(urls: dict[str, str], concurrency: int, requests: int) -> dict[str, dict[str, float]]:
    """Stream through each path in alternating waves, so load from elsewhere weighs on both alike."""
    ttfts: dict[str, list[float]] = {name: [] for name in urls}
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    clients = {
        name: openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=60) for name, url in urls.items()
    }
    try:
        for client in clients.values():
            await one_stream(client, 2, 0)  # warm the connection pools
        for _ in range(max(1, requests // concurrency)):
            for name, client in clients.items():
                waves = await asyncio.gather(*(one_stream(client, CHUNKS, CHUNK_DELAY) for _ in range(concurrency)))
                for ttft, chunk_latencies in waves:
                    ttfts[name].append(ttft)
                    latencies[name].extend(chunk_latencies)
    finally:
        for client in clients.values():
            await client.close()
    return {
        name: {
            "ttft_p50": percentile(ttfts[name], 0.5) * 1000,
            "ttft_p99": percentile(ttfts[name], 0.99) * 1000,
            "chunk_p50": percentile(latencies[name], 0.5) * 1000,
            "chunk_p99": percentile(latencies[name], 0.99) * 1000,
            "streams": len(ttfts[name]),
        }
        for name in urls
    }


async def hold(service_url: str, streams: int) -> dict[str, float]:
    """Open `streams` concurrent streams (60 chunks over 3 s each) and count those that finish cleanly."""
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": json.dumps({"chunks": 60, "delay": 0.05})}],
    }
    peak = 0

    async def one(http: httpx.AsyncClient) -> bool:
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                return False
            lines = [line async for line in response.aiter_lines() if line]
        return lines[-1] == "data: [DONE]" and not any('"error"' in line for line in lines)

    async def watch(http: httpx.AsyncClient) -> None:
        nonlocal peak
        while True:
            metrics = (await http.get("/metrics")).text
            for line in metrics.splitlines():
                if line.startswith("model_service_in_flight_requests "):
                    peak = max(peak, int(float(line.split()[1])))
            await asyncio.sleep(0.25)

    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=service_url, headers=headers, limits=limits, timeout=120) as http:
        watcher = asyncio.create_task(watch(http))
        started = time.perf_counter()
        results = await asyncio.gather(*(one(http) for _ in range(streams)), return_exceptions=True)
        elapsed = time.perf_counter() - started
        watcher.cancel()
    ok = sum(1 for result in results if result is True)
    return {"streams": streams, "ok": ok, "peak_in_flight": peak, "seconds": elapsed}


def start_processes(workdir: Path) -> tuple[subprocess.Popen[str], subprocess.Popen[str], str, str]:
    upstream = subprocess.Popen(
        [sys.executable, __file__, "--serve-upstream"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert upstream.stdout is not None
    upstream_url = f"http://127.0.0.1:{upstream.stdout.readline().strip()}/v1"
    settings = (
        "  first_token_timeout: 30\n  request_timeout: 120\n"
        f"  openai:\n    base_url: {upstream_url}\n    api_key: upstream-key\n    model: fake-model\n"
    )
    service, service_url = start_model_service(workdir, KEY, settings, timeout=30)
    return upstream, service, upstream_url, service_url


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"open files limit: {soft} -> {hard}")


async def round_trip(service_url: str, count: int = 300) -> float:
    """p50 of one plain HTTP round trip to the service (GET /healthz): the floor of what a relay hop costs here."""
    times = []
    async with httpx.AsyncClient(base_url=service_url) as http:
        await http.get("/healthz")
        for _ in range(count):
            started = time.perf_counter()
            await http.get("/healthz")
            times.append(time.perf_counter() - started)
    return percentile(times, 0.5) * 1000


async def run(args: argparse.Namespace, upstream_url: str, service_url: str) -> None:
    print(f"one HTTP round trip to the service (GET /healthz), p50: {await round_trip(service_url):.2f} ms")
    print(f"{CHUNKS} chunks per stream, {CHUNK_DELAY * 1000:g} ms apart; times in ms; {os.cpu_count()} CPUs")
    print(f"{'path':<7}{'streams':>9}{'conc':>6}{'ttft p50':>10}{'ttft p99':>10}{'chunk p50':>11}{'chunk p99':>11}")
    for concurrency in args.concurrency:
        urls = {"direct": upstream_url, "relay": f"{service_url}/v1"}
        table = await measure(urls, concurrency, max(args.requests, concurrency))
        for name, row in table.items():
            print(
                f"{name:<7}{row['streams']:>9.0f}{concurrency:>6}{row['ttft_p50']:>10.2f}{row['ttft_p99']:>10.2f}"
                f"{row['chunk_p50']:>11.2f}{row['chunk_p99']:>11.2f}"
            )
        direct, relay = table["direct"], table["relay"]
        added = relay["ttft_p50"] - direct["ttft_p50"]
        target = f" (target <= 2 ms: {'met' if added <= 2 else 'NOT met'})" if concurrency == 1 else ""
        print(
            f"  relay adds at concurrency {concurrency}: ttft p50 {added:+.2f} ms{target}, "
            f"chunk p50 {relay['chunk_p50'] - direct['chunk_p50']:+.2f} ms, "
            f"chunk p99 {relay['chunk_p99'] - direct['chunk_p99']:+.2f} ms"
        )
    for streams in args.hold:
        held = await hold(service_url, streams)
        print(
            f"hold {held['streams']} concurrent streams through the relay: {held['ok']} finished cleanly, "
            f"peak in flight {held['peak_in_flight']}, {held['seconds']:.1f} s for 60 chunks over 3 s each"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=200, help="streams per measurement (default 200)")
    parser.add_argument("--concurrency", type=lambda text: [int(x) for x in text.split(",")], default=[1, 100])
    parser.add_argument("--hold", type=lambda text: [int(x) for x in text.split(",") if x], default=[500])
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream()
        return
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as workdir:
        upstream, service, upstream_url, service_url = start_processes(Path(workdir))
        try:
            asyncio.run(run(args, upstream_url, service_url))
        finally:
            service.terminate()
            service.wait(10)
            assert upstream.stdin is not None
            upstream.stdin.close()
            upstream.wait(10)


if __name__ == "__main__":
    main()
