"""`model_service.chatglm.compute: exact` against the ORIGINAL's own quantized forward.

tests/model_service/golden/model_quantized.json holds what the original modeling_chatglm.py and
quantization.py computed on the tiny int8 and int4 checkpoints (glm_checkpoint.py, seed 0) on the
CPU in fp32 (scripts/chatglm_golden.py --quantized). With compute: exact the project's model, loaded
the way the service loads it, gives the same logits (to fp32's rounding bound) and the same greedy
ids and chat replies, over HTTP too; compute: fast, the default, does not (bf16 and int8 activations),
which is why the exact mode exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from common.config import ChatGLMBackendConfig
from model_service.backends.base import BackendStartError
from model_service.backends.chatglm6b.quantization import QuantizedLinear
from model_service.backends.loader import load_model
from tests.model_service.conftest import StartService
from tests.model_service.fp32_bounds import assert_greedy_agrees, logits_tolerance
from tests.model_service.glm_checkpoint import TinyShape, write_checkpoint
from tests.model_service.test_chatglm6b_service import (
    chat_messages,
    greedy_decided_steps,
    reply,
    service_config,
    start,
)
from tests.model_service.tiny_model import build_model

GOLDEN = json.loads((Path(__file__).parent / "golden" / "model_quantized.json").read_text(encoding="utf-8"))
LAYOUTS = {"int8": "single", "int4": "safetensors"}  # as published
LONGEST_REDUCTION = TinyShape().inner_hidden_size  # the longest fp32 sum in the tiny model


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("glm-exact")
    return {
        variant: write_checkpoint(root / variant, variant, layout, GOLDEN[variant]["checkpoint"]["seed"])
        for variant, layout in LAYOUTS.items()
    }


@pytest.fixture(scope="module")
def exact(folders: dict[str, Path]) -> dict[str, Any]:
    """Each checkpoint loaded as the service loads it, with compute: exact."""
    return {
        variant: load_model(ChatGLMBackendConfig(model_path=str(folder), device="cpu", compute="exact")).model
        for variant, folder in folders.items()
    }


def greedy_with_scores(model: Any, input_ids: list[int], new_tokens: int) -> tuple[list[int], list[torch.Tensor]]:
    with torch.inference_mode():
        output = model.generate(
            torch.tensor([input_ids]),
            max_new_tokens=new_tokens,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
        )
    return output.sequences[0].tolist(), [score[0] for score in output.scores]


def last_logits(model: Any, input_ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return model(torch.tensor([input_ids]), use_cache=False).logits[0, -1].float()


@pytest.mark.parametrize("variant", LAYOUTS)
def test_logits_equal_the_original_quantized_forward(exact: dict[str, Any], variant: str) -> None:
    golden = GOLDEN[variant]["logits"]
    expected = torch.tensor(golden["last_prompt_position"])
    ours = last_logits(exact[variant], golden["input_ids"])
    assert float((ours - expected).abs().max()) <= logits_tolerance(expected, LONGEST_REDUCTION)


@pytest.mark.parametrize("variant", LAYOUTS)
def test_greedy_ids_equal_the_original_quantized_forward(exact: dict[str, Any], variant: str) -> None:
    new_tokens = GOLDEN[variant]["new_tokens"]
    for case in GOLDEN[variant]["greedy"]:
        ours, scores = greedy_with_scores(exact[variant], case["input_ids"], new_tokens)
        # No near tie in these goldens (smallest margin 0.015, 30x two tolerances): every id is compared.
        assert assert_greedy_agrees(ours, scores, case["output_ids"], LONGEST_REDUCTION) == new_tokens, case["prompt"]


def test_the_exact_model_holds_the_original_numbers(exact: dict[str, Any]) -> None:
    """fp32 embeddings (not bf16), and the checkpoint's integers kept as they are, dequantized per call."""
    for model in exact.values():
        assert model.transformer.word_embeddings.weight.dtype == torch.float32
        layers = [module for module in model.modules() if isinstance(module, QuantizedLinear)]
        assert layers and all(layer.exact and layer._packed is None for layer in layers)


@pytest.mark.parametrize("variant", LAYOUTS)
def test_fast_compute_is_the_default_and_differs(folders: dict[str, Path], exact: dict[str, Any], variant: str) -> None:
    """The default keeps the fast kernels, whose bf16/int8 activations move the logits well past fp32's bound:
    the reason compute: exact exists."""
    config = ChatGLMBackendConfig(model_path=str(folders[variant]), device="cpu")
    assert config.compute == "fast"
    fast = load_model(config).model
    assert not any(module.exact for module in fast.modules() if isinstance(module, QuantizedLinear))
    golden = GOLDEN[variant]["logits"]
    expected = torch.tensor(golden["last_prompt_position"])
    assert float((last_logits(fast, golden["input_ids"]) - expected).abs().max()) > 10 * logits_tolerance(
        expected, LONGEST_REDUCTION
    )


@pytest.mark.parametrize("variant", LAYOUTS)
async def test_replies_over_http_equal_the_original_chat(
    start_service: StartService, folders: dict[str, Path], variant: str
) -> None:
    service, backend = start(start_service, service_config(folders[variant], compute="exact"))
    new_tokens = GOLDEN[variant]["new_tokens"]
    for case in GOLDEN[variant]["chat"]:
        answer = await reply(service, chat_messages(case), max_tokens=new_tokens)
        # A whole text compares equal on any CPU only with no near tie among its greedy steps.
        assert greedy_decided_steps(backend, backend.stats.last_prompt_ids) == new_tokens, case["query"]
        assert answer.choices[0].message.content == case["response"], case["query"]
    assert backend._loaded.report["compute"] == "exact"


def test_exact_is_refused_for_models_other_than_chatglm6b(tmp_path: Path) -> None:
    folder = build_model(tmp_path / "llama")
    with pytest.raises(BackendStartError, match=r"compute: exact .* model_type 'llama'; set compute: fast"):
        load_model(ChatGLMBackendConfig(model_path=str(folder), device="cpu", compute="exact"))
