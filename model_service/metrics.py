"""Prometheus metrics, one registry per app so several apps can live in one process (tests)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = CONTENT_TYPE_LATEST
KNOWN_PATHS = frozenset({"/v1/chat/completions", "/v1/models", "/healthz", "/readyz"})
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "model_service_requests",
            "HTTP requests answered, by path and status code.",
            ["path", "status"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "model_service_in_flight_requests", "Chat completions being answered now.", registry=self.registry
        )
        self.ttft = Histogram(
            "model_service_time_to_first_token_seconds",
            "Seconds from receiving a chat request to its first generated text.",
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.tokens_out = Counter(
            "model_service_completion_tokens", "Completion tokens sent to clients.", registry=self.registry
        )
        self.tokens_in = Counter(
            "model_service_prompt_tokens", "Prompt tokens of the requests answered.", registry=self.registry
        )
        self.reasoning_tokens = Counter(
            "model_service_reasoning_tokens",
            "Thinking tokens among the completion tokens, where the upstream reports them.",
            registry=self.registry,
        )
        self.stream_errors = Counter(
            "model_service_stream_errors",
            "Streams that ended with an error event after they began, by error code.",
            ["code"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def first_token_timer(self) -> FirstTokenTimer:
        return FirstTokenTimer(self)


class FirstTokenTimer:
    """Measures time to first token for one request; call it when the first text arrives."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._start = time.perf_counter()

    def __call__(self) -> None:
        self._metrics.ttft.observe(time.perf_counter() - self._start)


class RequestCounter:
    """ASGI middleware counting every HTTP response by path and status (404s and 401s included)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        status = {"code": 499}  # client closed the request before any answer

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.metrics.requests.labels(path=path, status=str(status["code"])).inc()
