"""ChatGLM-6B's config.json, read by transformers as `model_type: chatglm` (no remote code)."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig


class ChatGLMConfig(PretrainedConfig):
    """The keys of THUDM/chatglm-6b's config.json (and -int4/-int8's), with the published model's values as defaults.

    vocab_size: rows of the embedding / lm_head (130,528: the tokenizer's 130,344 pieces plus
        padding; the first revision had 150,528 with 20,000 image tokens).
    hidden_size: model width (4096). num_attention_heads: 32 heads of hidden_size / heads each.
    num_layers: GLM blocks (28). inner_hidden_size: the MLP's width (16,384).
    layernorm_epsilon: LayerNorm epsilon (1e-5).
    max_sequence_length: the context the model was trained for (2048 tokens).
    position_encoding_2d: rotary over (position, block position), half a head each (always true for ChatGLM-6B).
    bos_token_id: `<sop>`, where the reply starts: attention is bidirectional before it and causal after.
    eos_token_id: `<eop>`, the only token that ends a reply.
    mask_token_id / gmask_token_id: `[MASK]` / `[gMASK]`; the prompt's positions stop counting at the
        mask token, whose index every generated token keeps as its first position.
    pad_token_id: `<pad>`.
    quantization_bit: 0 for float weights; 4 or 8 for the pre-quantized checkpoints, whose blocks store
        int8 weights plus fp16 `weight_scale` (see quantization.py).
    quantization_embeddings: true in checkpoints whose embeddings are quantized too (not supported: none
        of the published ChatGLM-6B checkpoints does it).
    pre_seq_len / prefix_projection: P-tuning v2 prefixes (not supported; must be null / false).
    use_cache: keep keys and values between decoding steps.
    """

    model_type = "chatglm"
    attribute_map = {  # noqa: RUF012 - transformers' own convention for name aliases
        "num_hidden_layers": "num_layers",
        "max_position_embeddings": "max_sequence_length",
        "intermediate_size": "inner_hidden_size",
        "layer_norm_eps": "layernorm_epsilon",
    }
    keys_to_ignore_at_inference = ["past_key_values"]  # noqa: RUF012

    def __init__(
        self,
        vocab_size: int = 130528,
        hidden_size: int = 4096,
        num_layers: int = 28,
        num_attention_heads: int = 32,
        layernorm_epsilon: float = 1e-5,
        use_cache: bool = True,
        bos_token_id: int = 130004,
        eos_token_id: int = 130005,
        mask_token_id: int = 130000,
        gmask_token_id: int = 130001,
        pad_token_id: int = 3,
        max_sequence_length: int = 2048,
        inner_hidden_size: int = 16384,
        position_encoding_2d: bool = True,
        quantization_bit: int = 0,
        quantization_embeddings: bool = False,
        pre_seq_len: int | None = None,
        prefix_projection: bool = False,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_attention_heads = num_attention_heads
        self.layernorm_epsilon = layernorm_epsilon
        self.use_cache = use_cache
        self.mask_token_id = mask_token_id
        self.gmask_token_id = gmask_token_id
        self.max_sequence_length = max_sequence_length
        self.inner_hidden_size = inner_hidden_size
        self.position_encoding_2d = position_encoding_2d
        self.quantization_bit = quantization_bit
        self.quantization_embeddings = quantization_embeddings
        self.pre_seq_len = pre_seq_len
        self.prefix_projection = prefix_projection
        kwargs.setdefault("tie_word_embeddings", True)  # lm_head is the word embedding matrix
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id, **kwargs)
