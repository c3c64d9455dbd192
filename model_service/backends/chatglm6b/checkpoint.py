"""Reading a ChatGLM-6B folder lean on memory: checks with errors that name the file, and a streaming loader.

The streaming loader builds the model on the meta device and fills it tensor by tensor from the
weight files (safetensors or pytorch_model*.bin, memory-mapped), quantizing each block linear as it
arrives when asked to. Peak memory is the finished model plus one tensor, never a float copy of the
whole model: a full-size int4 ChatGLM-6B loads in about 5 GB of RAM on CPU.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model_service.backends.chatglm6b.configuration import ChatGLMConfig
from model_service.backends.chatglm6b.modeling import ChatGLMForConditionalGeneration
from model_service.backends.chatglm6b.quantization import QuantizedLinear, quantize_rows

log = logging.getLogger(__name__)

TOKENIZER_FILES = ("tokenizer_config.json", "ice_text.model")
WEIGHT_CHOICES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# Keys only ChatGLM2-6B / ChatGLM3-6B configs have (they share model_type "chatglm" but not the architecture).
LATER_GENERATION_KEYS = ("padded_vocab_size", "multi_query_attention", "kv_channels", "ffn_hidden_size", "seq_length")
DOWNLOAD_HINT = "download the whole folder again with `huggingface-cli download THUDM/chatglm-6b-int4 --local-dir DIR`"


class CheckpointError(ValueError):
    """The folder is not a usable ChatGLM-6B checkpoint; the message names the file and the fix."""


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {path}: {error}; {DOWNLOAD_HINT}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not a JSON object; {DOWNLOAD_HINT}")
    return data


def check_chatglm6b(folder: Path, config: dict[str, Any]) -> list[Path]:
    """Raise CheckpointError unless `folder` holds ChatGLM-6B's files; returns the weight files."""
    later = [key for key in LATER_GENERATION_KEYS if key in config]
    if later:
        raise CheckpointError(
            f"{folder / 'config.json'} describes ChatGLM2-6B or ChatGLM3-6B (it has {', '.join(later)}), a "
            "different architecture; this backend runs ChatGLM-6B: point model_service.chatglm.model_path at "
            "THUDM/chatglm-6b, -int8 or -int4, or serve the newer model with vLLM and use the openai backend"
        )
    for name in TOKENIZER_FILES:
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name} is missing (ChatGLM-6B's tokenizer needs it); {DOWNLOAD_HINT}")
    return weight_files(folder)


def weight_files(folder: Path) -> list[Path]:
    for name in WEIGHT_CHOICES:
        path = folder / name
        if not path.is_file():
            continue
        if not name.endswith(".index.json"):
            return [path]
        try:
            shards = sorted(set(json.loads(path.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"cannot read {path}: {error}; {DOWNLOAD_HINT}") from None
        missing = [shard for shard in shards if not (folder / shard).is_file()]
        if missing:
            raise CheckpointError(
                f"{folder / missing[0]} is missing ({len(missing)} of the {len(shards)} shards that {name} lists); "
                f"the download is incomplete: {DOWNLOAD_HINT}"
            )
        return [folder / shard for shard in shards]
    raise CheckpointError(
        f"{folder} has no weights (none of {', '.join(WEIGHT_CHOICES)}); {DOWNLOAD_HINT}, "
        "including the pytorch_model*.bin files"
    )


EMBEDDINGS = "transformer.word_embeddings.weight"


# -- memory ------------------------------------------------------------------------------------


def estimate_bytes(
    config: ChatGLMConfig, bits: int, dtype: torch.dtype, embedding_dtype: torch.dtype | None = None
) -> int:
    """Bytes the loaded model occupies: block linears at `bits` (0 = float), the word embeddings (and the
    tied output matrix) in `embedding_dtype`, everything else in `dtype`."""
    sized = ChatGLMConfig.from_dict({**config.to_dict(), "quantization_bit": bits})
    with torch.device("meta"):
        model = ChatGLMForConditionalGeneration(sized)
    size = torch.empty(0, dtype=dtype).element_size()
    embedding_size = torch.empty(0, dtype=embedding_dtype or dtype).element_size()
    total = 0
    for name, parameter in model.named_parameters():  # the tied lm_head is counted once
        if parameter.dtype == torch.int8:
            total += parameter.numel()
        else:
            total += parameter.numel() * (embedding_size if name == EMBEDDINGS else size)
    return total


def available_bytes(device: str) -> int | None:
    """Free memory where the model will live: CUDA's free memory, or MemAvailable within any cgroup limit."""
    if device == "cuda":
        return int(torch.cuda.mem_get_info()[0])
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            found.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    room = _cgroup_v1_room()
    if room is not None:
        found.append(room)
    return min(found) if found else None


def _cgroup_v1_room() -> int | None:
    """Limit minus usage of this process's cgroup v1 memory controller (None without one, or unlimited)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                group = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
                limit = int((group / "memory.limit_in_bytes").read_text())
                used = int((group / "memory.usage_in_bytes").read_text())
                return limit - used if limit < 2**62 else None
    except (OSError, ValueError):
        pass
    return None


# -- streaming load ------------------------------------------------------------------------------


def iterate_tensors(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) from each weight file in turn, memory-mapped so only what is used gets read."""
    for path in files:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                    yield name, handle.get_tensor(name)
            continue
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        for name in list(state):
            yield name, state.pop(name)
        del state


def load_streaming(
    folder: Path,
    files: list[Path],
    config: ChatGLMConfig,
    quantize: int,
    dtype: torch.dtype,
    device: str,
    embedding_dtype: torch.dtype | None = None,
) -> ChatGLMForConditionalGeneration:
    """Build on the meta device, then fill tensor by tensor; float block linears are quantized to `quantize`
    bits; the word embeddings (tied to the output matrix) are held in `embedding_dtype` (default `dtype`)."""
    checkpoint_bits = int(config.quantization_bit or 0)
    bits = checkpoint_bits or quantize
    config.quantization_bit = bits
    with torch.device("meta"):
        model = ChatGLMForConditionalGeneration(config)
    quantized_modules = {name for name, module in model.named_modules() if isinstance(module, QuantizedLinear)}
    expected = {name for name, _ in model.named_parameters()}
    loaded: set[str] = set()
    for name, tensor in iterate_tensors(files):
        module_name, _, attribute = name.rpartition(".")
        if "rotary_emb.inv_freq" in name:
            continue  # recomputed, as the original does
        if name not in expected and name != "lm_head.weight":
            log.warning("%s: ignoring unexpected tensor %s", folder.name, name)
            continue
        if module_name in quantized_modules and attribute == "weight" and tensor.is_floating_point():
            weight, scale = quantize_rows(tensor.to(device), bits)
            _assign(model, module_name, "weight", weight)
            _assign(model, module_name, "weight_scale", scale.to(dtype))
            loaded.update({name, f"{module_name}.weight_scale"})
            continue
        wanted = (embedding_dtype or dtype) if name == EMBEDDINGS else dtype
        value = tensor.to(device) if tensor.dtype == torch.int8 else tensor.to(device=device, dtype=wanted)
        _assign(model, module_name, attribute, value)
        loaded.add(name)
    model.lm_head.weight = model.transformer.word_embeddings.weight  # tied, whether or not the file has lm_head
    loaded.add("lm_head.weight")
    missing = sorted(expected - loaded)
    if missing:
        raise CheckpointError(
            f"the weights in {folder} lack {len(missing)} tensors the config.json's model needs, e.g. {missing[0]}; "
            f"the files do not match config.json: {DOWNLOAD_HINT}"
        )
    return model.eval()


def _assign(model: nn.Module, module_name: str, attribute: str, value: torch.Tensor) -> None:
    module = model.get_submodule(module_name)
    setattr(module, attribute, nn.Parameter(value.contiguous(), requires_grad=False))


def memory_report() -> dict[str, float]:
    """This process's resident memory now and at its peak, in GiB (from /proc/self/status)."""
    report = {}
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                report[key] = round(int(value.split()[0]) / 2**20, 2)
    except (OSError, ValueError):
        pass
    return report
