"""The chatglm backend over a tiny random-weight model, through real HTTP and the openai client."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

pytest.importorskip("torch", reason="the chatglm backend needs the local extra")
pytest.importorskip("transformers", reason="the chatglm backend needs the local extra")

from common.config import ModelServiceConfig
from model_service.backends.base import BackendStartError, GenerationRequest
from model_service.backends.chatglm import ChatGLMBackend
from model_service.server import ServerThread
from tests.model_service.conftest import SERVICE_KEY, StartService, leave_after_first_text, wait_until
from tests.model_service.tiny_model import NO_SYSTEM_TEMPLATE, build_model

SYSTEM = "Puzzle: a man dies. Answer: 灯塔看守者关掉灯, 船沉没."
QUESTION = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Is he dead?"}]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return build_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_model_no_system(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("tiny") / "no-system", chat_template=NO_SYSTEM_TEMPLATE)


def local_config(model_path: Path, **overrides: Any) -> ModelServiceConfig:
    chatglm = {"model_path": str(model_path), "quantize": None, "device": "cpu", "max_new_tokens": 4000}
    chatglm.update(overrides.pop("chatglm", {}))
    settings: dict[str, Any] = {
        "api_key": SERVICE_KEY,
        "backend": "chatglm",
        "first_token_timeout": 10,
        "request_timeout": 30,
        "max_queue": 4,
        "chatglm": {"max_context_tokens": 4096, **chatglm},
    }
    settings.update(overrides)
    return ModelServiceConfig.model_validate(settings)


def client_for(service: ServerThread) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0, timeout=30)


def start_local(start_service: StartService, config: ModelServiceConfig) -> tuple[ServerThread, ChatGLMBackend]:
    backend = ChatGLMBackend(config)
    return start_service(config, backend), backend


@pytest.fixture
def local(start_service: StartService, tiny_model: Path) -> tuple[ServerThread, ChatGLMBackend]:
    return start_local(start_service, local_config(tiny_model))


async def complete(service: ServerThread, **options: Any) -> Any:
    async with client_for(service) as client:
        return await client.chat.completions.create(model="turtle-host", messages=QUESTION, temperature=0, **options)


# -- completions ------------------------------------------------------------------------------


async def test_streamed_and_whole_replies_agree(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, _ = local
    whole = await complete(service, max_tokens=30)
    async with client_for(service) as client:
        stream = await client.chat.completions.create(
            model="m", messages=QUESTION, temperature=0, max_tokens=30, stream=True
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text and text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert whole.choices[0].finish_reason == chunks[-1].choices[0].finish_reason == "length"
    assert whole.usage.completion_tokens == 30
    assert whole.usage.prompt_tokens > 10


async def test_max_tokens_bounds_the_reply(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = local
    reply = await complete(service, max_tokens=5)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 5
    assert backend.stats.generations == 1


async def test_stop_string_cuts_the_reply(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = local
    full = (await complete(service, max_tokens=40)).choices[0].message.content
    stop = full[12:14]
    expected = full[: full.find(stop)]
    reply = await complete(service, max_tokens=40, stop=[stop, "never-generated"])
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason == "stop"
    async with client_for(service) as client:
        stream = await client.chat.completions.create(
            model="m", messages=QUESTION, temperature=0, max_tokens=40, stop=stop, stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"
    # Generation stopped at the stop string rather than running on to max_tokens.
    assert await wait_until(lambda: backend.stats.cancelled == 2, 2)


async def test_system_message_reaches_the_model(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = local
    await complete(service, max_tokens=2)
    prompt = backend.tokenizer.decode(backend.stats.last_prompt_ids)
    assert f"<|system|>{SYSTEM}" in prompt
    assert prompt.endswith("<|assistant|>")


async def test_system_message_is_folded_when_the_template_has_no_system_role(
    start_service: StartService, tiny_model_no_system: Path
) -> None:
    service, backend = start_local(start_service, local_config(tiny_model_no_system))
    reply = await complete(service, max_tokens=3)
    assert reply.choices[0].finish_reason == "length"
    prompt = backend.tokenizer.decode(backend.stats.last_prompt_ids)
    assert f"<|user|>{SYSTEM}\n\nIs he dead?" in prompt
    assert "<|system|>" not in prompt


async def test_long_history_is_trimmed_but_the_system_message_stays(
    start_service: StartService, tiny_model: Path
) -> None:
    config = local_config(tiny_model, chatglm={"max_context_tokens": 200, "max_new_tokens": 20})
    service, backend = start_local(start_service, config)
    history = []
    for turn in range(12):
        history += [{"role": "user", "content": f"question {turn}?"}, {"role": "assistant", "content": "不相关"}]
    messages = [QUESTION[0], *history, {"role": "user", "content": "last question?"}]
    async with client_for(service) as client:
        reply = await client.chat.completions.create(model="m", messages=messages, temperature=0, max_tokens=20)
    assert reply.choices[0].finish_reason == "length"
    prompt = backend.tokenizer.decode(backend.stats.last_prompt_ids)
    assert len(backend.stats.last_prompt_ids) <= 180
    assert SYSTEM in prompt and "last question?" in prompt
    assert "question 0?" not in prompt and "question 11?" in prompt
    async with client_for(service) as client:
        with pytest.raises(openai.BadRequestError, match="context"):
            await client.chat.completions.create(model="m", messages=[{"role": "system", "content": "x" * 400}])


# -- cancellation and queueing -----------------------------------------------------------------


async def test_disconnect_stops_generation(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = local
    body = {"model": "m", "messages": QUESTION, "stream": True, "max_tokens": 4000, "temperature": 0}
    left_at = await leave_after_first_text(service, body)
    assert await wait_until(lambda: backend.stats.cancelled == 1, 2)
    assert time.monotonic() - left_at < 1
    started = time.monotonic()
    reply = await complete(service, max_tokens=3)  # the model is free again at once
    assert reply.usage.completion_tokens == 3
    assert time.monotonic() - started < 1


async def test_queue_bound_answers_429(start_service: StartService, tiny_model: Path) -> None:
    service, backend = start_local(start_service, local_config(tiny_model, max_queue=1))
    async with client_for(service) as client:
        running = await client.chat.completions.create(
            model="m", messages=QUESTION, temperature=0, max_tokens=4000, stream=True
        )
        await anext(aiter(running))
        waiting = asyncio.create_task(complete(service, max_tokens=2))
        assert await wait_until(lambda: backend.pending == 2, 2)
        with pytest.raises(openai.RateLimitError) as caught:
            await complete(service, max_tokens=2)
        assert caught.value.response.headers["retry-after"] == "2"
        assert caught.value.code == "queue_full"
        await running.close()  # the running one leaves: the waiting one gets the model
        reply = await asyncio.wait_for(waiting, 5)
    assert reply.usage.completion_tokens == 2
    assert backend.stats.cancelled == 1


async def test_one_generation_at_a_time(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = local
    replies = await asyncio.gather(*(complete(service, max_tokens=8) for _ in range(3)))
    assert len({reply.choices[0].message.content for reply in replies}) == 1  # greedy: identical
    assert backend.stats.generations == 3
    async with httpx.AsyncClient(base_url=service.url) as http:
        ready = await http.get("/readyz")
        metrics = (await http.get("/metrics")).text
    assert ready.json() == {"status": "ready", "backend": "chatglm"}
    assert "model_service_completion_tokens_total 24.0" in metrics


# -- loading ---------------------------------------------------------------------------------


async def test_missing_model_folder_is_a_clear_startup_error(tmp_path: Path) -> None:
    backend = ChatGLMBackend(local_config(tmp_path / "nowhere"))
    with pytest.raises(BackendStartError, match="does not exist; download the model with `huggingface-cli download"):
        await backend.start()
    assert not await backend.ready()
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendStartError, match=r"no config\.json"):
        await ChatGLMBackend(local_config(tmp_path / "empty")).start()


async def test_cuda_requested_without_a_gpu_is_a_clear_error(tiny_model: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(BackendStartError, match="torch sees no CUDA GPU"):
        await ChatGLMBackend(local_config(tiny_model, chatglm={"device": "cuda"})).start()


@pytest.mark.filterwarnings("ignore:MatMul8bitLt.*:UserWarning")
@pytest.mark.parametrize("bits", [4, 8])
async def test_bitsandbytes_quantized_loading(start_service: StartService, tiny_model: Path, bits: int) -> None:
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed")
    import torch

    backend = ChatGLMBackend(local_config(tiny_model, chatglm={"quantize": bits}))
    try:
        await backend.start()
    except BackendStartError as error:
        if torch.cuda.is_available():
            raise
        pytest.skip(f"bitsandbytes cannot quantize on this CPU-only machine: {error}")
    layer = backend.model.model.layers[0].mlp.up_proj
    assert type(layer).__name__ == ("Linear4bit" if bits == 4 else "Linear8bitLt")
    request = GenerationRequest(messages=QUESTION, temperature=0, max_tokens=4)
    pieces = [delta async for delta in backend.stream(request)]
    assert pieces[-1].finish_reason == "length"
    assert sum(delta.tokens or 0 for delta in pieces) == 4
    await backend.close()


# -- request fields: honoured or refused, never dropped --------------------------------------------


async def post_raw(service: ServerThread, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        return await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {SERVICE_KEY}"})


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "v", "schema": {}}}}, "response_format"),
        ({"logit_bias": {"5": 10}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"reasoning_effort": "low"}, "reasoning_effort"),
        ({"stream": True, "response_format": {"type": "json_object"}}, "response_format"),
        ({"messages": [{"role": "user", "content": "Is he dead?", "name": "player-7"}]}, "messages.0.name"),
    ],
)
async def test_fields_the_local_model_cannot_honour_are_400(
    local: tuple[ServerThread, ChatGLMBackend], extra: dict[str, Any], param: str
) -> None:
    service, backend = local
    response = await post_raw(service, {"messages": QUESTION, "max_tokens": 3, **extra})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, "unsupported_parameter")
    assert f"`{param}` is not supported by the chatglm backend" in error["message"]
    assert backend.stats.generations == 0


async def test_default_valued_fields_pass(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = local
    neutral = {
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "logprobs": False,
        "logit_bias": {},
        "tools": [],
        "response_format": {"type": "text"},
        "top_logprobs": None,
        "user": "player-7",
    }
    response = await post_raw(service, {"messages": QUESTION, "max_tokens": 3, **neutral})
    assert response.status_code == 200, response.text
    assert backend.stats.generations == 1


async def test_seed_makes_sampling_repeatable(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, _ = local

    async def sample(seed: int) -> str:
        body = {"messages": QUESTION, "max_tokens": 12, "temperature": 1.0, "seed": seed}
        return str((await post_raw(service, body)).json()["choices"][0]["message"]["content"])

    first = await sample(5)
    assert await sample(5) == first
    assert {await sample(seed) for seed in (6, 7, 8)} != {first}


async def test_the_local_model_never_sends_thinking(local: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, _ = local
    body = {"messages": QUESTION, "max_tokens": 6, "stream": True, "stream_options": {"include_usage": True}}
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream(
            "POST", f"{service.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {SERVICE_KEY}"}
        ) as response,
    ):
        lines = [line.removeprefix("data: ") async for line in response.aiter_lines() if line]
    chunks = [json.loads(line) for line in lines[:-1]]
    assert all(set(choice["delta"]) <= {"role", "content"} for chunk in chunks for choice in chunk["choices"])
    assert "completion_tokens_details" not in chunks[-1]["usage"]
    message = (await post_raw(service, {"messages": QUESTION, "max_tokens": 6})).json()["choices"][0]["message"]
    assert set(message) == {"role", "content"}
