"""Quantized layers on their kernels run the prompt's GELU and attention in torch's fused kernels: the original's
formulas up to rounding, never in `compute: exact`."""

from __future__ import annotations

import math

import torch

from model_service.backends.chatglm6b.modeling import MASKED_SCORE, _fused_attention, fused_gelu_, gelu


def original_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor, layer: int):
    coefficient = float(layer + 1)
    scores = (query / (math.sqrt(query.shape[-1]) * coefficient)) @ key.transpose(-1, -2)
    scores = scores.masked_fill(mask, MASKED_SCORE) * coefficient  # in float64 here
    return torch.softmax(scores, dim=-1) @ value


def glm_mask(length: int, context: int) -> torch.Tensor:
    allowed = torch.ones(length, length).tril_()
    allowed[:, :context] = 1  # the prompt sees itself both ways, the reply causally
    return (allowed < 0.5)[None, None]


def test_fused_attention_is_the_originals_up_to_rounding_in_every_layer() -> None:
    torch.manual_seed(3)
    query, key, value = (torch.randn(1, 4, 70, 32) * 2 for _ in range(3))
    mask = glm_mask(70, 60)
    fused = _fused_attention(query, key, value, mask)
    for layer in (0, 13, 27):  # the original's layer scaling cancels out; its masked scores weigh 0
        expected = original_attention(query.double(), key.double(), value.double(), mask, layer)
        assert (fused.double() - expected).abs().max() < 1e-5
    query[..., 65:, :] *= 0  # the reply's rows: what they may see is what matters, not what they are
    assert torch.isfinite(_fused_attention(query, key, value, mask)).all()


def test_fused_gelu_is_the_originals_up_to_rounding_and_writes_in_place() -> None:
    torch.manual_seed(5)
    x = torch.randn(64, 512) * 3
    expected = gelu(x.double())
    own = x.clone()
    assert fused_gelu_(own) is not None and (own.double() - expected).abs().max() < 1e-6
    assert (gelu(x).double() - expected).abs().max() < 1e-6
