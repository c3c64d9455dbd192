"""ChatGLM-6B as the project's own transformers model (no remote code).

`register()` makes `AutoConfig`, `AutoModel`, `AutoModelForCausalLM` and `AutoTokenizer` load a
ChatGLM-6B folder (`model_type: chatglm`) with these classes, ignoring the checkpoint's `auto_map`.
Importing this package does not import torch; `register()` does.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

MODEL_TYPE = "chatglm"
_registered = False


def register() -> None:
    """Register config, model and tokenizer with transformers' Auto classes (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    from model_service.backends.chatglm6b.configuration import ChatGLMConfig
    from model_service.backends.chatglm6b.modeling import ChatGLMForConditionalGeneration

    AutoConfig.register(MODEL_TYPE, ChatGLMConfig, exist_ok=True)
    # The original maps AutoModel to the generation class too; chat code calls AutoModel.from_pretrained.
    AutoModel.register(ChatGLMConfig, ChatGLMForConditionalGeneration, exist_ok=True)
    AutoModelForCausalLM.register(ChatGLMConfig, ChatGLMForConditionalGeneration, exist_ok=True)
    try:
        from model_service.backends.chatglm6b.tokenization import ChatGLMTokenizer
    except ImportError as error:  # sentencepiece missing: the model still loads, the tokenizer will say why not
        log.warning("ChatGLM tokenizer unavailable: %s", error)
    else:
        AutoTokenizer.register(ChatGLMConfig, slow_tokenizer_class=ChatGLMTokenizer, exist_ok=True)
    _registered = True
