"""Schemathesis against the service's own OpenAPI schema: generated requests, valid and not,
never get a 5xx other than the documented upstream errors (502, 504), and every error answers
OpenAI's error envelope."""

from __future__ import annotations

import contextlib

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY

DOCUMENTED_5XX = {502, 504}
EXAMPLES_PER_OPERATION = 30


def test_generated_requests_get_no_undocumented_server_errors(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.default = Reply.text("Yes. It is.")
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    checked: dict[str, int] = {}
    strategies = [
        result.ok().as_strategy(generation_mode=mode)
        for result in schema.get_all_operations()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    for strategy in strategies:

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {SERVICE_KEY}"}, timeout=10)
            assert response.status_code < 500 or response.status_code in DOCUMENTED_5XX, response.text
            if response.status_code >= 400:
                body = response.json()
                assert set(body["error"]) >= {"message", "type", "code"}, body
            checked[case.operation.label] = checked.get(case.operation.label, 0) + 1

        # An operation without inputs (GET /healthz) has no invalid form to generate.
        with contextlib.suppress(Unsatisfiable):
            check()
    assert "POST /v1/chat/completions" in checked
    assert len(checked) >= 5  # chat, models, health, readiness, metrics
    print(f"schemathesis: {sum(checked.values())} generated requests over {len(checked)} operations")
