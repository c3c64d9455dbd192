"""Tiny random ChatGLM-6B checkpoints written in the exact published on-disk layout.

What a `huggingface-cli download THUDM/chatglm-6b[-int8|-int4]` folder holds, minus the Python
files: config.json with ChatGLM-6B's keys (`quantization_bit` for the int8/int4 ones),
tokenizer_config.json and ice_text.model (tests/model_service/glm_spm.py), and the weights under
their published names (`transformer.word_embeddings.weight`,
`transformer.layers.N.attention.query_key_value.weight`, ..., `lm_head.weight`), as one
pytorch_model.bin, as shards with pytorch_model.bin.index.json, or as model.safetensors.

Variants: fp32, fp16, int8 and int4. The quantized ones are quantized from the same float weights
(same seed) the way ChatGLM-6B's `quantize()` does it: per output row, scale = absmax / 127 (or / 7),
stored as fp16 `weight_scale`; int4 packs input column 2j in the high nibble and 2j+1 in the low one.
The int4 file has no `lm_head.weight` (tied to the embeddings), as published.

Weights come from a seeded torch.Generator, so the same arguments give the same tensors in any venv
with the same torch (scripts/chatglm_golden.py runs the original code on them), and are rounded to
fp16-representable values (the original holds embeddings and linears as fp16 parameters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from tests.model_service.glm_spm import special_token_ids, write_tokenizer_files

Variant = Literal["fp32", "fp16", "int8", "int4"]
Layout = Literal["single", "sharded", "safetensors"]
QUANTIZED_LINEARS = ("attention.query_key_value", "attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h")


@dataclass(frozen=True)
class TinyShape:
    hidden_size: int = 64
    num_layers: int = 3  # more than one, so query-key layer scaling by layer number shows
    num_attention_heads: int = 4
    inner_hidden_size: int = 256
    max_sequence_length: int = 2048
    extra_vocab_rows: int = 50  # config vocab_size exceeds the tokenizer's pieces, as 130,528 > 130,344


class ConfigShape(Protocol):
    """The sizes config.json records (TinyShape here, bench/glm6b_random.py's Shape for full size)."""

    hidden_size: int
    inner_hidden_size: int
    max_sequence_length: int
    num_attention_heads: int
    num_layers: int


SPECIAL_ID_KEYS = ("bos_token_id", "eos_token_id", "mask_token_id", "gmask_token_id", "pad_token_id")


def published_config(
    shape: ConfigShape,
    ids: Mapping[str, int],
    vocab_size: int,
    name: str,
    torch_dtype: str,
    bits: int = 0,
    transformers_version: str = "4.23.1",
) -> dict[str, object]:
    """ChatGLM-6B's config.json keys, in its order; `bits` 4/8 adds the -int4/-int8 checkpoints' keys."""
    config: dict[str, object] = {
        "_name_or_path": name,
        "architectures": ["ChatGLMModel"],
        "auto_map": {
            "AutoConfig": "configuration_chatglm.ChatGLMConfig",
            "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
            "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
        },
        **{key: ids[key] for key in SPECIAL_ID_KEYS},
        "hidden_size": shape.hidden_size,
        "inner_hidden_size": shape.inner_hidden_size,
        "layernorm_epsilon": 1e-05,
        "max_sequence_length": shape.max_sequence_length,
        "model_type": "chatglm",
        "num_attention_heads": shape.num_attention_heads,
        "num_layers": shape.num_layers,
        "position_encoding_2d": True,
    }
    if bits:
        config |= {"quantization_bit": bits, "quantization_embeddings": False}
    return config | {
        "torch_dtype": torch_dtype,
        "transformers_version": transformers_version,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def config_json(shape: TinyShape, variant: Variant, num_image_tokens: int = 0) -> dict[str, object]:
    """The published config.json with the tiny sizes and this tokenizer's special ids."""
    ids = special_token_ids(num_image_tokens)
    name = "THUDM/chatglm-6b" + ("" if variant in ("fp32", "fp16") else f"-{variant}")
    bits = {"int8": 8, "int4": 4}.get(variant, 0)
    dtype = "float32" if variant == "fp32" else "float16"
    return published_config(shape, ids, ids["tokenizer_vocab_size"] + shape.extra_vocab_rows, name, dtype, bits)


def float_weights(
    shape: TinyShape, vocab_size: int, tokenizer_size: int, eos_token_id: int, seed: int = 0
) -> dict[str, object]:
    """The fp32 state dict under the published names (lm_head a copy of the embeddings)."""
    import torch

    generator = torch.Generator().manual_seed(seed)

    def normal(*size: int, std: float) -> torch.Tensor:
        return torch.randn(*size, generator=generator) * std

    hidden, inner = shape.hidden_size, shape.inner_hidden_size
    embeddings = normal(vocab_size, hidden, std=0.5)
    # Zero rows score 0 against any hidden state, so a random model's argmax never picks them:
    # <eop> (greedy replies then run to max_tokens, which tests want) and the rows past the
    # tokenizer's pieces (which no tokenizer can decode, and the real model never predicts).
    embeddings[eos_token_id] = 0.0
    embeddings[tokenizer_size:] = 0.0
    rotary_dim = hidden // shape.num_attention_heads // 2
    inv_freq = (1.0 / (10000 ** (torch.arange(0, rotary_dim, 2).float() / rotary_dim))).half()
    weights: dict[str, torch.Tensor] = {"transformer.word_embeddings.weight": embeddings}
    for index in range(shape.num_layers):
        prefix = f"transformer.layers.{index}."
        weights.update(
            {
                prefix + "input_layernorm.weight": normal(hidden, std=1.0),
                prefix + "input_layernorm.bias": normal(hidden, std=0.1),
                prefix + "attention.rotary_emb.inv_freq": inv_freq.float(),
                prefix + "attention.query_key_value.weight": normal(3 * hidden, hidden, std=0.2),
                prefix + "attention.query_key_value.bias": normal(3 * hidden, std=0.1),
                prefix + "attention.dense.weight": normal(hidden, hidden, std=0.6),
                prefix + "attention.dense.bias": normal(hidden, std=0.1),
                prefix + "post_attention_layernorm.weight": normal(hidden, std=1.0),
                prefix + "post_attention_layernorm.bias": normal(hidden, std=0.1),
                prefix + "mlp.dense_h_to_4h.weight": normal(inner, hidden, std=0.2),
                prefix + "mlp.dense_h_to_4h.bias": normal(inner, std=0.1),
                prefix + "mlp.dense_4h_to_h.weight": normal(hidden, inner, std=0.4),
                prefix + "mlp.dense_4h_to_h.bias": normal(hidden, std=0.1),
            }
        )
    weights["transformer.final_layernorm.weight"] = normal(hidden, std=1.0)
    weights["transformer.final_layernorm.bias"] = normal(hidden, std=0.1)
    weights["lm_head.weight"] = embeddings.clone()
    # Every value exactly representable in fp16: the original builds its embeddings and linears as
    # fp16 parameters, so it would round an fp32 file's weights on load anyway. The fp32 and fp16
    # files then hold the same numbers.
    return {name: tensor.half().float() for name, tensor in weights.items()}


def quantize_linear(weight: object, bits: int) -> tuple[object, object]:
    """ChatGLM-6B's quantize(): per-row absmax scale in fp16, rounded int8; int4 packed high/low nibbles.

    Written here on its own (not imported from the model code) so the fixture checks the loader
    against the published layout rather than against itself.
    """
    import torch

    top = 2 ** (bits - 1) - 1
    scale = (weight.abs().max(dim=-1).values / top).half()
    values = torch.round(weight / scale.float()[:, None]).clamp(-top - 1, top).to(torch.int8)
    if bits == 4:
        values = ((values[:, 0::2] << 4) | (values[:, 1::2] & 0x0F)).to(torch.int8)
    return values, scale


def published_weights(float_state: dict[str, object], variant: Variant) -> dict[str, object]:
    """The state dict as the published checkpoint of this variant stores it."""
    import torch

    if variant == "fp32":
        return dict(float_state)
    state = {name: tensor.half() for name, tensor in float_state.items()}
    if variant == "fp16":
        return state
    bits = 8 if variant == "int8" else 4
    for name, tensor in float_state.items():
        module = name.rsplit(".", 1)[0]
        if name.endswith(".weight") and module.endswith(QUANTIZED_LINEARS):
            state[name], state[module + ".weight_scale"] = quantize_linear(tensor.to(torch.float32), bits)
    if bits == 4:
        del state["lm_head.weight"]
    return state


def write_checkpoint(
    folder: Path,
    variant: Variant = "fp32",
    layout: Layout = "single",
    seed: int = 0,
    shape: TinyShape = TinyShape(),
    num_image_tokens: int = 0,
) -> Path:
    """Write a complete tiny checkpoint folder; returns it."""
    write_tokenizer_files(folder, num_image_tokens)
    config = config_json(shape, variant, num_image_tokens)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tokenizer_size = special_token_ids(num_image_tokens)["tokenizer_vocab_size"]
    float_state = float_weights(shape, int(config["vocab_size"]), tokenizer_size, int(config["eos_token_id"]), seed)
    save_weights(folder, published_weights(float_state, variant), layout)
    return folder


def save_weights(folder: Path, state: dict[str, object], layout: Layout) -> None:
    import torch

    state = {name: tensor.contiguous() for name, tensor in state.items()}
    if layout == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        return
    if layout == "single":
        torch.save(state, folder / "pytorch_model.bin")
        return
    # Sharded like the published 8 files: layers split across shards, the head in the last one.
    names = list(state)
    shards = 3
    size = -(-len(names) // shards)
    weight_map = {}
    for number in range(shards):
        shard_name = f"pytorch_model-{number + 1:05d}-of-{shards:05d}.bin"
        part = {name: state[name] for name in names[number * size : (number + 1) * size]}
        torch.save(part, folder / shard_name)
        weight_map.update(dict.fromkeys(part, shard_name))
    total = sum(tensor.numel() * tensor.element_size() for tensor in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
