"""The appending KV cache: the same keys and values as transformers' DynamicCache, without the copies."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers.cache_utils import DynamicCache

from model_service.backends.chatglm6b import register
from model_service.backends.chatglm6b.cache import MIN_ROOM, AppendingCache, new_cache
from model_service.backends.chatglm6b.modeling import ChatGLMForConditionalGeneration
from tests.model_service.fp32_bounds import assert_greedy_agrees, logits_tolerance
from tests.model_service.glm_checkpoint import TinyShape, write_checkpoint

LONGEST_REDUCTION = TinyShape().inner_hidden_size  # the longest fp32 sum in the tiny model

register()


def states(length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 3, length, 4, generator=generator) for _ in range(2))  # type: ignore[return-value]


def feed(cache: DynamicCache, lengths: list[int], seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [cache.update(*states(length, seed + step), layer_idx=0) for step, length in enumerate(lengths)]


def test_appending_gives_what_concatenating_gives_through_growth() -> None:
    lengths = [5, 1, 1, MIN_ROOM, 1, 3 * MIN_ROOM, 1]  # past the first room twice
    for ours, reference in zip(feed(new_cache(), lengths), feed(DynamicCache(), lengths), strict=True):
        assert torch.equal(ours[0], reference[0]) and torch.equal(ours[1], reference[1])


def test_a_decoding_step_writes_in_place_instead_of_copying() -> None:
    cache = new_cache()
    assert isinstance(cache, AppendingCache)
    keys, _ = feed(cache, [600])[0]
    for step in range(10):
        next_keys, _ = cache.update(*states(1, 100 + step), layer_idx=0)
        assert next_keys.data_ptr() == keys.data_ptr() and next_keys.shape[-2] == 601 + step


def test_crop_and_reordering_keep_the_cache_consistent() -> None:
    ours, reference = new_cache(), DynamicCache()
    for cache in (ours, reference):
        feed(cache, [7, 1, 1])
        cache.crop(-2)  # as assisted decoding rolls back
        cache.update(*states(1, 50), layer_idx=0)
        cache.batch_select_indices(torch.tensor([1, 0]))  # as beam search reorders: no longer views of the room
        cache.update(*states(2, 51), layer_idx=0)
    assert ours.get_seq_length() == reference.get_seq_length() == 10
    assert torch.equal(ours.layers[0].keys, reference.layers[0].keys)
    assert torch.equal(ours.layers[0].values, reference.layers[0].values)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ChatGLMForConditionalGeneration:
    folder = write_checkpoint(Path(tmp_path_factory.mktemp("cache")) / "fp32", "fp32", "single", 0)
    return ChatGLMForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()


def test_generate_uses_the_appending_cache_and_decodes_the_same(model: ChatGLMForConditionalGeneration) -> None:
    prompt = torch.tensor([[5, 6, 7, 8, 9, model.config.gmask_token_id, model.config.bos_token_id]])
    options = {"max_new_tokens": 12, "do_sample": False, "return_dict_in_generate": True, "output_scores": True}
    with torch.inference_mode():
        ours = model.generate(input_ids=prompt, **options)
        reference = model.generate(input_ids=prompt, cache=DynamicCache(), **options)
    assert isinstance(ours.cache, AppendingCache)
    # The same keys and values, though read through views of a larger room: a matmul may sum them in
    # another order there, so the logits agree to fp32's bound and the ids wherever the margins decide.
    steps = assert_greedy_agrees(
        ours.sequences[0].tolist(), ours.scores, reference.sequences[0].tolist(), LONGEST_REDUCTION
    )
    assert steps == 12  # no near tie on this prompt: every id compared
    for mine, theirs in zip(ours.scores, reference.scores, strict=True):
        assert (mine - theirs).abs().max() <= logits_tolerance(theirs, LONGEST_REDUCTION)


def test_a_cache_made_under_inference_mode_goes_on_outside_it() -> None:
    ours, reference = new_cache(), DynamicCache()
    for cache in (ours, reference):
        with torch.inference_mode():
            feed(cache, [6])
        with torch.no_grad():
            cache.update(*states(1, 9), layer_idx=0)
    assert torch.equal(ours.layers[0].keys, reference.layers[0].keys)
    assert torch.equal(ours.layers[0].values, reference.layers[0].values)
