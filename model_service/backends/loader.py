"""Loading a local model and tokenizer, optionally quantized, with errors that say what to do.

ChatGLM-6B folders (config.json `model_type: chatglm`) load with the project's own model code
(model_service/backends/chatglm6b), never the checkpoint's: float, the published -int8/-int4, or
quantized at load with `quantize: 4|8`. Other models transformers knows natively (Llama, Qwen, ...)
load with `AutoModelForCausalLM`, quantized with bitsandbytes when asked; a model that needs its
own code runs only with `trust_remote_code: true`.

Imported only by the chatglm backend, and it imports torch/transformers inside functions, so the
slim install (no `local` extra) never needs them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.config import ChatGLMBackendConfig
from model_service.backends.base import BackendStartError

log = logging.getLogger(__name__)

# Beyond the weights, a 600-token prompt needs the KV cache and activations (about 2 GiB at its peak on CPU).
RUNTIME_HEADROOM = 3 * 1024**3

INSTALL_HINT = "install the local extra: pip install 'turtle-soup-bot[local]' (or pip install -e '.[local]')"
MEMORY_HINT = (
    "set model_service.chatglm.quantize: 4 (or use the THUDM/chatglm-6b-int4 folder: about 5 GB of RAM on "
    "CPU, 4 GB of GPU memory), free memory, or use the openai backend"
)
GIB = 2**30


@dataclass
class LoadedModel:
    tokenizer: Any
    model: Any
    device: str
    quantized: str  # how: "none", "checkpoint-4bit", "torch-8bit", "bitsandbytes-4bit", ...
    report: dict[str, Any] = field(default_factory=dict)  # how it loaded: seconds, memory, files


def load_model(config: ChatGLMBackendConfig) -> LoadedModel:
    """Load tokenizer and weights once; raise BackendStartError with advice on any failure."""
    try:
        import torch
        import transformers
    except ImportError as error:
        raise BackendStartError(f"the chatglm backend needs torch and transformers ({error}); {INSTALL_HINT}") from None
    started = time.perf_counter()
    source = _check_source(config.model_path)
    device = _resolve_device(config.device, torch)
    try:
        folder = _local_folder(source)
        model_type = _model_type(folder)
        if model_type == "chatglm":
            loaded = _load_chatglm6b(folder, config, device, torch)
        else:
            loaded = _load_other(folder, model_type, config, device, torch, transformers)
    except BackendStartError:
        raise
    except (MemoryError, _oom_error(torch)) as error:
        raise BackendStartError(f"not enough memory to load {source}: {error}; {MEMORY_HINT}") from None
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        raise BackendStartError(_explain(source, error)) from None
    loaded.model.eval()
    loaded.report.update(source=source, device=device, quantization=loaded.quantized)
    loaded.report["load_seconds"] = round(time.perf_counter() - started, 2)
    log.info("loaded %s: %s", source, loaded.report)
    return loaded


# -- ChatGLM-6B ------------------------------------------------------------------------------------


def _load_chatglm6b(folder: Path, config: ChatGLMBackendConfig, device: str, torch: Any) -> LoadedModel:
    from model_service.backends.chatglm6b import register
    from model_service.backends.chatglm6b.checkpoint import (
        CheckpointError,
        available_bytes,
        check_chatglm6b,
        estimate_bytes,
        load_streaming,
        memory_report,
        read_config,
    )
    from model_service.backends.chatglm6b.configuration import ChatGLMConfig
    from model_service.backends.chatglm6b.memory import keep_freed_memory, return_freed_memory

    register()
    try:
        files = check_chatglm6b(folder, read_config(folder))
        model_config = ChatGLMConfig.from_pretrained(folder)
    except CheckpointError as error:
        raise BackendStartError(str(error)) from None
    exact = config.compute == "exact"
    dtype = torch.float16 if device == "cuda" and not exact else torch.float32
    checkpoint_bits = int(model_config.quantization_bit or 0)
    bits = checkpoint_bits or (config.quantize or 0)
    if checkpoint_bits and config.quantize and config.quantize != checkpoint_bits:
        log.warning(
            "%s is already quantized to %d bits; model_service.chatglm.quantize: %s does not apply",
            folder,
            checkpoint_bits,
            config.quantize,
        )
    # A quantized model on CPU keeps its word embeddings (also the output matrix, tied) in bf16: 1 GiB
    # less to hold and to read per token, so int4 fits in 6 GB; the blocks still compute in fp32.
    # compute: exact keeps them in fp32 (the original's .float()), and every quantized linear computes as
    # the original's CPU path does.
    embedding_dtype = torch.bfloat16 if bits and device == "cpu" and not exact else dtype
    needed, available = estimate_bytes(model_config, bits, dtype, embedding_dtype), available_bytes(device)
    _check_memory(folder, needed, available)
    if device == "cpu" and available is not None and available < needed + RUNTIME_HEADROOM:
        # Tight: freed blocks go straight back (int4 then runs in 6 GB), at some cost in speed.
        log.info("little memory to spare: large freed blocks are returned to the system at once")
        return_freed_memory()
    elif device == "cpu":
        keep_freed_memory()  # a prompt's large activations reused, not faulted in afresh per layer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    try:
        model = load_streaming(folder, files, model_config, bits, dtype, device, embedding_dtype)
    except CheckpointError as error:
        raise BackendStartError(str(error)) from None
    if exact:
        log.warning(
            "model_service.chatglm.compute: exact: %d quantized linears dequantize to fp32 on every call, as the "
            "original computes on CPU; several times slower than compute: fast, meant for checking a checkpoint",
            model.compute_exactly(),
        )
    packed = model.pack_quantized() if device == "cpu" else 0
    how = "none" if not bits else f"checkpoint-{bits}bit" if checkpoint_bits else f"torch-{bits}bit"
    report = {
        "weights": [path.name for path in files],
        "packed_linears": packed,
        "compute": config.compute,
        "memory_gib": memory_report(),
    }
    return LoadedModel(tokenizer=tokenizer, model=model, device=device, quantized=how, report=report)


def _check_memory(folder: Path, needed: int, available: int | None) -> None:
    if available is None or needed * 1.05 < available:
        return
    raise BackendStartError(
        f"{folder} needs about {needed / GIB:.1f} GiB of memory as configured, and only {available / GIB:.1f} GiB "
        f"is free; {MEMORY_HINT}"
    )


# -- other models ----------------------------------------------------------------------------------


def _load_other(
    folder: Path, model_type: str, config: ChatGLMBackendConfig, device: str, torch: Any, transformers: Any
) -> LoadedModel:
    """A model transformers knows (or, with trust_remote_code, one that brings its own code)."""
    known = model_type in transformers.CONFIG_MAPPING
    if config.compute == "exact":
        raise BackendStartError(
            f"model_service.chatglm.compute: exact reproduces ChatGLM-6B's own arithmetic, but "
            f"{folder / 'config.json'} says model_type {model_type!r}; set compute: fast for this model"
        )
    if not known and not config.trust_remote_code:
        raise BackendStartError(
            f"{folder / 'config.json'} says model_type {model_type!r}, which neither this project (ChatGLM-6B) nor "
            "transformers can load; point model_service.chatglm.model_path at a ChatGLM-6B folder "
            "(THUDM/chatglm-6b, -int8, -int4), or set model_service.chatglm.trust_remote_code: true to run that "
            "model's own code"
        )
    remote = not known
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, trust_remote_code=remote)
    kwargs: dict[str, Any] = {_dtype_argument(transformers): torch.float16 if device == "cuda" else torch.float32}
    model_config = transformers.AutoConfig.from_pretrained(folder, trust_remote_code=remote)
    how = "checkpoint" if getattr(model_config, "quantization_config", None) else "none"
    if config.quantize and how == "none":
        kwargs["quantization_config"] = _bitsandbytes_config(config.quantize, device, torch, transformers)
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
        how = f"bitsandbytes-{config.quantize}bit"
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=remote, **kwargs)
    except (RuntimeError, ValueError, ImportError, AttributeError) as error:
        if how.startswith("bitsandbytes"):
            raise BackendStartError(
                f"cannot load {folder} with {config.quantize}-bit bitsandbytes quantization on {device}: "
                f"{_first_line(error)}; set model_service.chatglm.quantize: null, or run on a CUDA GPU"
            ) from None
        raise
    if "device_map" not in kwargs and device != "cpu":
        model = model.to(device)
    return LoadedModel(tokenizer=tokenizer, model=model, device=device, quantized=how)


def _bitsandbytes_config(bits: int, device: str, torch: Any, transformers: Any) -> Any:
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackendStartError(
            f"quantize: {bits} needs the bitsandbytes package ({INSTALL_HINT}); "
            "or set model_service.chatglm.quantize: null"
        )
    if bits == 4:
        compute = torch.float16 if device == "cuda" else torch.float32
        return transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=compute)
    return transformers.BitsAndBytesConfig(load_in_8bit=True)


# -- where the files are -----------------------------------------------------------------------------


def _check_source(model_path: str) -> str:
    path = Path(model_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BackendStartError(
                f"{path} is a file; model_service.chatglm.model_path must be the model's folder (the one holding "
                "config.json, ice_text.model and the weights)"
            )
        if not (path / "config.json").is_file():
            raise BackendStartError(
                f"{path} has no config.json, so it is not a model folder; point model_service.chatglm.model_path "
                "at the folder `huggingface-cli download <model> --local-dir <folder>` created"
            )
        return str(path)
    looks_local = model_path.startswith(("/", ".", "~")) or model_path.count("/") != 1
    if looks_local:
        raise BackendStartError(
            f"model folder {model_path} does not exist; download the model with "
            f"`huggingface-cli download THUDM/chatglm-6b-int4 --local-dir {model_path}` or set "
            "model_service.chatglm.model_path to an existing folder or a Hub id such as THUDM/chatglm-6b-int4"
        )
    return model_path  # a Hub id


def _local_folder(source: str) -> Path:
    """The folder itself, or the Hub snapshot (downloaded or cached) of a Hub id."""
    path = Path(source)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.model", "*.safetensors", "*.bin", "*.txt", "*.py"]
    return Path(snapshot_download(source, allow_patterns=patterns))


def _model_type(folder: Path) -> str:
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["model_type"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackendStartError(
            f"cannot read model_type from {path} ({type(error).__name__}: {error}); download the model folder again"
        ) from None


def _resolve_device(device: str, torch: Any) -> str:
    has_cuda = bool(torch.cuda.is_available())
    if device == "cuda" and not has_cuda:
        raise BackendStartError(
            "model_service.chatglm.device is cuda but torch sees no CUDA GPU; set device: cpu (slow) or auto, "
            "or install a CUDA build of torch"
        )
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device


def _oom_error(torch: Any) -> type[BaseException]:
    return getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError


def _dtype_argument(transformers: Any) -> str:
    # transformers renamed from_pretrained's torch_dtype to dtype (4.56); older versions need the old name.
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _explain(source: str, error: BaseException) -> str:
    text = _first_line(error)
    if "out of memory" in text.lower() or "can't allocate memory" in text.lower():
        return f"not enough memory to load {source}: {text}; {MEMORY_HINT}"
    if not Path(source).exists():
        return (
            f"cannot get {source} from the Hugging Face Hub ({text}); if it is meant as a local folder, it does "
            "not exist. Without network access (or with HF_HUB_OFFLINE=1 and no cached copy), download it on a "
            f"connected machine with `huggingface-cli download {source} --local-dir <folder>`, copy the folder here "
            "and set model_service.chatglm.model_path to it"
        )
    return f"cannot load {source}: {text}; check that the folder is a complete download of the model"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:400]
