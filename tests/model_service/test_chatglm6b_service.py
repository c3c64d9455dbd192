"""The chatglm backend serving tiny ChatGLM-6B checkpoints (published layout) over real HTTP.

The fp32 checkpoint's replies are compared with what the ORIGINAL chat() answered on the same
checkpoint (tests/model_service/golden/model.json); the quantized ones with the fp32 model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from common.config import ModelServiceConfig
from model_service.backends.base import BackendStartError
from model_service.backends.chatglm import ChatGLMBackend
from model_service.server import ServerThread
from tests.model_service.conftest import SERVICE_KEY, StartService, leave_after_first_text, wait_until
from tests.model_service.fp32_bounds import decided_steps
from tests.model_service.glm_checkpoint import TinyShape, write_checkpoint

GOLDEN = json.loads((Path(__file__).parent / "golden" / "model.json").read_text(encoding="utf-8"))
NEW_TOKENS = GOLDEN["new_tokens"]
SYSTEM = "汤面：一个男人走进餐厅，点了一碗海龟汤。汤底：他曾经在海上遇难。"
QUESTION = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "他是自杀吗？"}]
VARIANTS = {  # name: (checkpoint variant, layout, quantize at load)
    "fp32": ("fp32", "single", None),
    "fp16-sharded": ("fp16", "sharded", None),
    "int8": ("int8", "single", None),
    "int4-safetensors": ("int4", "safetensors", None),
    "fp32+quantize8": ("fp32", "single", 8),
    "fp16+quantize4": ("fp16", "sharded", 4),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("glm-service")
    seed = GOLDEN["checkpoint"]["seed"]
    made: dict[str, Path] = {}
    for variant, layout, _ in VARIANTS.values():
        name = f"{variant}-{layout}"
        if name not in made:
            made[name] = write_checkpoint(root / name, variant, layout, seed)
    return made


def folder_of(folders: dict[str, Path], name: str) -> Path:
    variant, layout, _ = VARIANTS[name]
    return folders[f"{variant}-{layout}"]


def service_config(folder: Path, quantize: int | None = None, **chatglm: Any) -> ModelServiceConfig:
    settings = {"model_path": str(folder), "quantize": quantize, "device": "cpu", "max_new_tokens": 4000}
    settings.update(chatglm)
    return ModelServiceConfig.model_validate(
        {
            "api_key": SERVICE_KEY,
            "backend": "chatglm",
            "first_token_timeout": 10,
            "request_timeout": 30,
            "max_queue": 4,
            "chatglm": {"max_context_tokens": 2048, **settings},
        }
    )


def start(start_service: StartService, config: ModelServiceConfig) -> tuple[ServerThread, ChatGLMBackend]:
    backend = ChatGLMBackend(config)
    return start_service(config, backend), backend


def client_for(service: ServerThread) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0, timeout=30)


async def reply(service: ServerThread, messages: list[dict[str, str]], **options: Any) -> Any:
    async with client_for(service) as client:
        return await client.chat.completions.create(model="m", messages=messages, temperature=0, **options)


async def streamed(service: ServerThread, messages: list[dict[str, str]], **options: Any) -> tuple[str, str | None]:
    async with client_for(service) as client:
        stream = await client.chat.completions.create(
            model="m", messages=messages, temperature=0, stream=True, **options
        )
        chunks = [chunk async for chunk in stream]
    return "".join(c.choices[0].delta.content or "" for c in chunks), chunks[-1].choices[0].finish_reason


def chat_messages(case: dict[str, Any]) -> list[dict[str, str]]:
    messages = []
    for question, answer in case["history"]:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return [*messages, {"role": "user", "content": case["query"]}]


@pytest.fixture(scope="module")
def served(folders: dict[str, Path]) -> dict[str, Any]:
    """Replies of every variant to the golden chats (one backend start each), gathered once."""
    import asyncio

    from model_service.app import create_app

    async def gather(name: str) -> dict[str, Any]:
        config = service_config(folder_of(folders, name), VARIANTS[name][2])
        backend = ChatGLMBackend(config)
        server = ServerThread(create_app(config, backend=backend)).start()
        try:
            texts, decided = [], []
            cases = GOLDEN["chat"] if name == "fp32" else GOLDEN["chat"][1:3]  # the others: enough to compare
            for case in cases:
                whole = await reply(server, chat_messages(case), max_tokens=NEW_TOKENS)
                text, finish = await streamed(server, chat_messages(case), max_tokens=NEW_TOKENS)
                texts.append((whole.choices[0].message.content, text, finish, whole.usage.completion_tokens))
                decided.append(greedy_decided_steps(backend, backend.stats.last_prompt_ids))
            return {"texts": texts, "quantized": backend._loaded.quantized, "decided": decided}
        finally:
            server.stop()

    return {name: asyncio.run(gather(name)) for name in VARIANTS}


def greedy_decided_steps(backend: ChatGLMBackend, prompt_ids: list[int]) -> int:
    """How many of the reply's greedy tokens every correct fp32 run picks alike (tests/model_service/fp32_bounds.py)."""
    import torch

    with torch.inference_mode():
        output = backend.model.generate(
            torch.tensor([prompt_ids]),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
        )
    return decided_steps(output.scores, TinyShape().inner_hidden_size)


# -- every variant over HTTP ---------------------------------------------------------------------------


def test_fp32_replies_equal_the_original_chat(served: dict[str, Any]) -> None:
    # Whole texts are compared, which holds on any CPU only where no greedy step is a near tie: each
    # reply's top-1 minus top-2 margins exceed what two correct fp32 runs can disagree by.
    assert served["fp32"]["decided"] == [NEW_TOKENS] * len(GOLDEN["chat"])
    for case, (whole, stream_text, finish, tokens) in zip(GOLDEN["chat"], served["fp32"]["texts"], strict=True):
        assert whole == stream_text == case["response"], case["query"]
        assert finish == "length" and tokens == NEW_TOKENS


def test_fp16_checkpoint_computed_in_fp32_equals_fp32(served: dict[str, Any]) -> None:
    assert served["fp16-sharded"]["texts"] == served["fp32"]["texts"][1:3]  # same (fp16-exact) numbers, fp32 math


@pytest.mark.parametrize(
    ("published", "at_load", "bits"), [("int8", "fp32+quantize8", 8), ("int4-safetensors", "fp16+quantize4", 4)]
)
def test_pre_quantized_and_quantized_at_load_agree(
    served: dict[str, Any], published: str, at_load: str, bits: int
) -> None:
    """Identical int weights either way, so identical replies; how close they stay to fp32 is measured in
    test_chatglm6b_model.py (logits within 2.3% for int8, 52% for int4 on this tiny random model)."""
    assert served[published]["quantized"] == f"checkpoint-{bits}bit"
    assert served[at_load]["quantized"] == f"torch-{bits}bit"
    assert served[published]["texts"] == served[at_load]["texts"]
    for whole, stream_text, finish, tokens in served[published]["texts"]:
        assert whole == stream_text and finish == "length" and tokens == NEW_TOKENS


# -- behaviour, on the int4 checkpoint (what CPU users run) ----------------------------------------------


@pytest.fixture
def int4(start_service: StartService, folders: dict[str, Path]) -> tuple[ServerThread, ChatGLMBackend]:
    return start(start_service, service_config(folder_of(folders, "int4-safetensors")))


async def test_system_message_reaches_the_model_in_round_0(int4: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = int4
    history = [{"role": "user", "content": "他死了吗？"}, {"role": "assistant", "content": "是。"}]
    await reply(service, [QUESTION[0], *history, QUESTION[1]], max_tokens=2)
    prompt = backend.tokenizer.decode(backend.stats.last_prompt_ids)
    assert prompt.startswith(f"[Round 0]\n问：{SYSTEM}\n\n他死了吗？\n答：是。\n[Round 1]\n问：他是自杀吗？\n答：")
    config = backend.model.config
    assert backend.stats.last_prompt_ids[-2:] == [config.gmask_token_id, config.bos_token_id]


async def test_stop_strings_and_max_tokens(int4: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = int4
    full = (await reply(service, QUESTION, max_tokens=NEW_TOKENS)).choices[0].message.content
    assert len(full) > 6
    stop = full[4:6]
    expected = full[: full.find(stop)]
    cut = await reply(service, QUESTION, max_tokens=NEW_TOKENS, stop=[stop, "never-generated"])
    assert cut.choices[0].message.content == expected and cut.choices[0].finish_reason == "stop"
    assert await streamed(service, QUESTION, max_tokens=NEW_TOKENS, stop=[stop]) == (expected, "stop")
    short = await reply(service, QUESTION, max_tokens=3)
    assert short.usage.completion_tokens == 3 and short.choices[0].finish_reason == "length"
    assert await wait_until(lambda: backend.stats.cancelled == 2, 2)  # stopped at the stop string, not at max


async def test_long_history_is_trimmed_to_the_context(start_service: StartService, folders: dict[str, Path]) -> None:
    config = service_config(folder_of(folders, "int4-safetensors"), max_context_tokens=160, max_new_tokens=16)
    service, backend = start(start_service, config)
    history = []
    for turn in range(12):
        history += [{"role": "user", "content": f"Is it {turn}?"}, {"role": "assistant", "content": "不是。"}]
    messages = [QUESTION[0], *history, {"role": "user", "content": "What's the answer?"}]
    answer = await reply(service, messages, max_tokens=16)
    assert answer.choices[0].finish_reason == "length"
    prompt = backend.tokenizer.decode(backend.stats.last_prompt_ids)
    assert len(backend.stats.last_prompt_ids) <= 160 - 16
    assert SYSTEM in prompt and "What's the answer?" in prompt
    assert "Is it 0?" not in prompt and "Is it 11?" in prompt


async def test_disconnect_stops_generation(int4: tuple[ServerThread, ChatGLMBackend]) -> None:
    service, backend = int4
    body = {"model": "m", "messages": QUESTION, "stream": True, "max_tokens": 2000, "temperature": 0}
    left_at = await leave_after_first_text(service, body)
    assert await wait_until(lambda: backend.stats.cancelled == 1, 3)
    assert time.monotonic() - left_at < 2
    assert (await reply(service, QUESTION, max_tokens=2)).usage.completion_tokens == 2


# -- start-up errors ---------------------------------------------------------------------------------------


async def start_error(folder: Path, **chatglm: Any) -> str:
    backend = ChatGLMBackend(service_config(folder, **chatglm))
    with pytest.raises(BackendStartError) as caught:
        await backend.start()
    assert not await backend.ready()
    return str(caught.value)


def copy_folder(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


async def test_missing_files_are_named(folders: dict[str, Path], tmp_path: Path) -> None:
    broken = copy_folder(folder_of(folders, "fp16-sharded"), tmp_path / "no-tokenizer")
    (broken / "ice_text.model").unlink()
    assert "ice_text.model is missing" in await start_error(broken)
    shards = copy_folder(folder_of(folders, "fp16-sharded"), tmp_path / "no-shard")
    (shards / "pytorch_model-00002-of-00003.bin").unlink()
    message = await start_error(shards)
    assert "pytorch_model-00002-of-00003.bin is missing" in message and "huggingface-cli download" in message
    weightless = copy_folder(folder_of(folders, "fp16-sharded"), tmp_path / "no-weights")
    for path in weightless.glob("pytorch_model*"):
        path.unlink()
    assert "has no weights" in await start_error(weightless)
    assert "no config.json" in await start_error(tmp_path)  # a folder, but not a model's


async def test_other_model_types_are_refused(folders: dict[str, Path], tmp_path: Path) -> None:
    newer = copy_folder(folder_of(folders, "int8"), tmp_path / "chatglm2")
    config = json.loads((newer / "config.json").read_text())
    (newer / "config.json").write_text(
        json.dumps({**config, "padded_vocab_size": 65024, "multi_query_attention": True})
    )
    assert "describes ChatGLM2-6B or ChatGLM3-6B" in await start_error(newer)
    (newer / "config.json").write_text(json.dumps({**config, "model_type": "baichuan"}))
    message = await start_error(newer)
    assert "model_type 'baichuan'" in message and "config.json" in message and "trust_remote_code" in message


async def test_too_little_memory_is_a_clear_error(folders: dict[str, Path], tmp_path: Path) -> None:
    huge = copy_folder(folder_of(folders, "int4-safetensors"), tmp_path / "huge")
    config = json.loads((huge / "config.json").read_text())
    (huge / "config.json").write_text(json.dumps({**config, "vocab_size": 2**40 // 64}))  # a 4 TiB embedding
    message = await start_error(huge)
    assert "GiB of memory as configured" in message and "quantize: 4" in message
