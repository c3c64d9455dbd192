"""A ChatGLM-6B checkpoint with random weights, written in the published int4/int8 on-disk layout.

For benchmarks: speed and memory depend on the shapes and the storage format, not on what the
weights say. The folder has what THUDM/chatglm-6b-int4 / -int8 ship and our loader reads:
config.json (with `quantization_bit`), tokenizer_config.json, ice_text.model and the weights under
the published tensor names. In each block's four linears `weight` is int8 `[out, in]` (8-bit) or
int8 `[out, in/2]` holding two signed nibbles (4-bit: input column 2j high, 2j+1 low), with an fp16
per-row `weight_scale`; everything else is fp16. The 4-bit file has no `lm_head.weight` (tied to
the embeddings). int4 goes into one `pytorch_model.bin`, as published; int8 into shards of about
2 GB with `pytorch_model.bin.index.json`, so the writer never holds more than one shard in memory.

ice_text.model is a sentencepiece model written directly (protobuf wire format) with the real
model's piece count and id layout (130,344 pieces; [MASK] at 130,000, [gMASK] 130,001, <sop>
130,004, <eop> 130,005), its ordinary pieces being fillers: benchmarks feed token ids, not text.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.model_service.glm_checkpoint import published_config
from tests.model_service.glm_spm import serialize_model, special_ids_of, tokenizer_config

LINEARS = {  # name -> (out, in) as multiples of (hidden, inner)
    "attention.query_key_value": ("3h", "h"),
    "attention.dense": ("h", "h"),
    "mlp.dense_h_to_4h": ("i", "h"),
    "mlp.dense_4h_to_h": ("h", "i"),
}
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6
GLM_CONTROL = ["[MASK]", "[gMASK]", "[sMASK]", "<unused_0>", "<sop>", "<eop>", "<ENC>", "<dBLOCK>"]
HEAD_PIECES = [("<unk>", UNKNOWN), ("<s>", CONTROL), ("</s>", CONTROL), ("<pad>", CONTROL), ("<n>", USER_DEFINED)]
WEIGHT_STD = 0.02  # about what the trained model's linears have; keeps activations finite through 28 layers
SHARD_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Shape:
    num_layers: int
    hidden_size: int
    inner_hidden_size: int
    num_attention_heads: int
    vocab_size: int
    first_control_id: int  # sentencepiece id of [MASK]; the real model's is 130,000
    max_sequence_length: int = 2048

    def linear_shape(self, name: str) -> tuple[int, int]:
        sizes = {"h": self.hidden_size, "3h": 3 * self.hidden_size, "i": self.inner_hidden_size}
        out, inp = LINEARS[name]
        return sizes[out], sizes[inp]


FULL = Shape(
    num_layers=28, hidden_size=4096, inner_hidden_size=16384, num_attention_heads=32, vocab_size=130528,
    first_control_id=130000,
)  # fmt: skip
SMOKE = Shape(
    num_layers=2, hidden_size=64, inner_hidden_size=256, num_attention_heads=4, vocab_size=768, first_control_id=400
)


def pieces(shape: Shape) -> list[tuple[str, float, int]]:
    """Every sentencepiece piece in id order, laid out like ice_text.model: (piece, score, type)."""
    out = [(piece, 0.0, kind) for piece, kind in HEAD_PIECES]
    ordinary = ["▁", *(chr(c) for c in range(0x21, 0x7F)), *"，。！？：；、"]
    out += [(piece, -5.0, NORMAL) for piece in ordinary]
    out += [(f"▁f{n}", -20.0, NORMAL) for n in range(shape.first_control_id - len(out))]
    out += [(piece, 0.0, CONTROL) for piece in GLM_CONTROL]
    out.append(("<|tab|>", 0.0, USER_DEFINED))
    out += [(f"<|blank_{length}|>", 0.0, USER_DEFINED) for length in range(2, 81)]
    out += [(f"<0x{byte:02X}>", 0.0, BYTE) for byte in range(256)]
    return out


def special_ids(shape: Shape) -> dict[str, int]:
    return special_ids_of(pieces(shape))


def config_json(shape: Shape, bits: int) -> dict[str, object]:
    """THUDM/chatglm-6b-int{bits}'s config.json with this shape."""
    name = f"THUDM/chatglm-6b-int{bits}"
    return published_config(shape, special_ids(shape), shape.vocab_size, name, "float16", bits, "4.27.1")


def write_checkpoint(folder: Path, shape: Shape, bits: int, seed: int = 0) -> Path:
    """Write the whole folder; tensors are made one block at a time."""
    import torch

    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, not {bits}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ice_text.model").write_bytes(sentencepiece_bytes(shape))
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(0), indent=2) + "\n")
    generator = torch.Generator().manual_seed(seed)
    writer = _ShardWriter(folder, single_file=bits == 4)
    embeddings = _normal((shape.vocab_size, shape.hidden_size), generator)
    writer.add("transformer.word_embeddings.weight", embeddings)
    for layer in range(shape.num_layers):
        writer.add_many(_block(f"transformer.layers.{layer}.", shape, bits, generator))
    writer.add("transformer.final_layernorm.weight", torch.ones(shape.hidden_size, dtype=torch.float16))
    writer.add("transformer.final_layernorm.bias", torch.zeros(shape.hidden_size, dtype=torch.float16))
    if bits == 8:  # the 8-bit file keeps its own copy of the (tied) output matrix
        writer.add("lm_head.weight", embeddings.clone())
    del embeddings
    writer.close()
    # config.json last: a folder interrupted half-way has none, so it is never mistaken for a finished one
    (folder / "config.json").write_text(json.dumps(config_json(shape, bits), indent=2) + "\n")
    return folder


def _normal(size: tuple[int, ...], generator: Any) -> Any:
    import torch

    return (torch.randn(size, generator=generator) * WEIGHT_STD).half()


def _block(prefix: str, shape: Shape, bits: int, generator: Any) -> dict[str, Any]:
    import torch

    hidden = shape.hidden_size
    tensors: dict[str, Any] = {}
    for norm in ("input_layernorm", "post_attention_layernorm"):
        tensors[f"{prefix}{norm}.weight"] = torch.ones(hidden, dtype=torch.float16)
        tensors[f"{prefix}{norm}.bias"] = torch.zeros(hidden, dtype=torch.float16)
    rotary = hidden // shape.num_attention_heads // 2
    inv_freq = 1.0 / (10000 ** (torch.arange(0, rotary, 2).float() / rotary))
    tensors[f"{prefix}attention.rotary_emb.inv_freq"] = inv_freq.half()
    # Random bytes are random values in either layout: one int8, or two signed nibbles.
    top = 127 if bits == 8 else 7
    value_std = math.sqrt(((2 * top + 2) ** 2 - 1) / 12)  # std of a uniform integer over the type's range
    for name in LINEARS:
        out, inp = shape.linear_shape(name)
        columns = inp if bits == 8 else inp // 2
        weight = torch.randint(-128, 128, (out, columns), dtype=torch.int8, generator=generator)
        tensors[f"{prefix}{name}.weight"] = weight
        tensors[f"{prefix}{name}.weight_scale"] = torch.full((out,), WEIGHT_STD / value_std, dtype=torch.float16)
        tensors[f"{prefix}{name}.bias"] = _normal((out,), generator)
    return tensors


class _ShardWriter:
    """Collects tensors and saves a shard whenever one is full (or everything at the end, for one file)."""

    def __init__(self, folder: Path, single_file: bool) -> None:
        self.folder = folder
        self.single_file = single_file
        self.pending: dict[str, Any] = {}
        self.pending_bytes = 0
        self.shards: list[dict[str, Any]] = []

    def add(self, name: str, tensor: Any) -> None:
        size = tensor.numel() * tensor.element_size()
        if not self.single_file and self.pending and self.pending_bytes + size > SHARD_BYTES:
            self._flush()
        self.pending[name] = tensor
        self.pending_bytes += size

    def add_many(self, tensors: dict[str, Any]) -> None:
        for name, tensor in tensors.items():
            self.add(name, tensor)

    def _flush(self) -> None:
        import torch

        part = self.folder / f"pytorch_model-part{len(self.shards) + 1}.bin"
        torch.save(self.pending, part)
        self.shards.append({"path": part, "names": list(self.pending), "bytes": self.pending_bytes})
        self.pending, self.pending_bytes = {}, 0

    def close(self) -> None:
        import torch

        if self.single_file:
            torch.save(self.pending, self.folder / "pytorch_model.bin")
            self.pending = {}
            return
        if self.pending:
            self._flush()
        count, weight_map, total = len(self.shards), {}, 0
        for number, shard in enumerate(self.shards, start=1):
            name = f"pytorch_model-{number:05d}-of-{count:05d}.bin"
            shard["path"].rename(self.folder / name)
            weight_map.update(dict.fromkeys(shard["names"], name))
            total += shard["bytes"]
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        (self.folder / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2) + "\n")


def checkpoint_bytes_per_token(shape: Shape, bits: int) -> int:
    """Bytes a decoding step must read in this format: every block's weights (linears at `bits`, fp16
    scales, biases and LayerNorms) plus the fp16 output matrix once; one embedding row is negligible."""
    per_layer = 4 * shape.hidden_size * 2  # two LayerNorms, weight + bias, fp16
    for name in LINEARS:
        out, inp = shape.linear_shape(name)
        per_layer += out * inp * bits // 8 + out * 2 + out * 2  # weight, weight_scale, bias
    return shape.num_layers * per_layer + shape.vocab_size * shape.hidden_size * 2 + 2 * shape.hidden_size * 2


# -- sentencepiece ModelProto ------------------------------------------------------------------------


def sentencepiece_bytes(shape: Shape) -> bytes:
    """The full-size piece list, serialized as the test fixture serializes its tiny one."""
    return serialize_model(pieces(shape))
