"""Loading a local model and tokenizer with transformers, optionally quantized, with errors that say what to do.

Imported only by the chatglm backend, and it imports torch/transformers inside functions, so the
slim install (no `local` extra) never needs them.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config import ChatGLMBackendConfig
from model_service.backends.base import BackendStartError

log = logging.getLogger(__name__)

INSTALL_HINT = "install the local extra: pip install 'turtle-soup-bot[local]' (or pip install -e '.[local]')"
MEMORY_HINT = (
    "set model_service.chatglm.quantize: 4 (about 6 GB of GPU memory, or about 5.2 GB of RAM on CPU for "
    "ChatGLM-6B-int4), free memory, or use the openai backend"
)


@dataclass
class LoadedModel:
    tokenizer: Any
    model: Any
    device: str
    quantized: str  # how: "none", "chatglm-4bit", "bitsandbytes-8bit", "checkpoint", ...


def load_model(config: ChatGLMBackendConfig) -> LoadedModel:
    """Load tokenizer and weights once; raise BackendStartError with advice on any failure."""
    try:
        import torch
        import transformers
    except ImportError as error:
        raise BackendStartError(f"the chatglm backend needs torch and transformers ({error}); {INSTALL_HINT}") from None
    source = _check_source(config.model_path)
    device = _resolve_device(config.device, torch)
    try:
        model_config = transformers.AutoConfig.from_pretrained(source, trust_remote_code=config.trust_remote_code)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, trust_remote_code=config.trust_remote_code)
        if getattr(model_config, "auto_map", None) and config.trust_remote_code:
            model, how = _load_remote_code(source, model_config, config, device, transformers)
        else:
            model, how = _load_native(source, model_config, config, device, torch, transformers)
    except BackendStartError:
        raise
    except (MemoryError, _oom_error(torch)) as error:
        raise BackendStartError(f"not enough memory to load {source}: {error}; {MEMORY_HINT}") from None
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        raise BackendStartError(_explain(source, error)) from None
    model.eval()
    log.info("loaded %s on %s (quantization: %s, prompt format follows)", source, device, how)
    return LoadedModel(tokenizer=tokenizer, model=model, device=device, quantized=how)


def _oom_error(torch: Any) -> type[BaseException]:
    # torch.OutOfMemoryError is recent; older torch (as ChatGLM-6B's pinned stack may use) has the cuda one.
    return getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError


def _dtype_argument(transformers: Any) -> str:
    # transformers renamed from_pretrained's torch_dtype to dtype (4.56); older versions need the old name.
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _check_source(model_path: str) -> str:
    path = Path(model_path).expanduser()
    if path.exists():
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


def _already_quantized(model_config: Any) -> bool:
    # ChatGLM-6B-int4/int8 set quantization_bit; transformers-native checkpoints carry quantization_config.
    return bool(getattr(model_config, "quantization_bit", 0)) or getattr(model_config, "quantization_config", None)


def _load_remote_code(source: str, model_config: Any, config: ChatGLMBackendConfig, device: str, transformers: Any):
    """ChatGLM-6B style: the checkpoint's own modelling code, quantized with its own `quantize(bits)`."""
    model = transformers.AutoModel.from_pretrained(source, trust_remote_code=True)
    how = "checkpoint" if _already_quantized(model_config) else "none"
    model = model.half() if device == "cuda" else model.float()
    if config.quantize and how == "none":
        if not hasattr(model, "quantize"):
            raise BackendStartError(
                f"{source} has no quantize() method of its own; set model_service.chatglm.quantize: null "
                "or use a model native to transformers (quantized with bitsandbytes)"
            )
        model = model.quantize(config.quantize)
        how = f"chatglm-{config.quantize}bit"
    if device == "cuda":
        model = model.cuda()
    return model, how


def _load_native(
    source: str, model_config: Any, config: ChatGLMBackendConfig, device: str, torch: Any, transformers: Any
):
    """A model transformers knows: bitsandbytes 4/8-bit when asked (and not already quantized)."""
    kwargs: dict[str, Any] = {_dtype_argument(transformers): torch.float16 if device == "cuda" else torch.float32}
    how = "checkpoint" if _already_quantized(model_config) else "none"
    if config.quantize and how == "none":
        kwargs["quantization_config"] = _bitsandbytes_config(config.quantize, device, torch, transformers)
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
        how = f"bitsandbytes-{config.quantize}bit"
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (RuntimeError, ValueError, ImportError, AttributeError) as error:
        if how.startswith("bitsandbytes"):
            raise BackendStartError(
                f"cannot load {source} with {config.quantize}-bit bitsandbytes quantization on {device}: "
                f"{_first_line(error)}; set model_service.chatglm.quantize: null, or run on a CUDA GPU"
            ) from None
        raise
    if "device_map" not in kwargs and device != "cpu":
        model = model.to(device)
    return model, how


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


def _explain(source: str, error: BaseException) -> str:
    text = _first_line(error)
    if "out of memory" in text.lower() or "can't allocate memory" in text.lower():
        return f"not enough memory to load {source}: {text}; {MEMORY_HINT}"
    if isinstance(error, OSError) and not Path(source).exists():
        return (
            f"cannot get {source} from the Hugging Face Hub ({text}); if it is meant as a local folder, it does "
            "not exist. Without network access (or with "
            f"HF_HUB_OFFLINE=1 and no cached copy), download it on a connected machine with `huggingface-cli "
            f"download {source} --local-dir <folder>`, copy the folder here and set model_service.chatglm.model_path "
            "to it"
        )
    if "trust_remote_code" in text:
        return f"{source} ships its own modelling code: set model_service.chatglm.trust_remote_code: true ({text})"
    return (
        f"cannot load {source}: {text}. ChatGLM-6B's own code needs transformers 4.27-4.33 "
        "(see docs/MODEL_SERVICE.md), or serve the model with vLLM/Ollama and use the openai backend"
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:400]
