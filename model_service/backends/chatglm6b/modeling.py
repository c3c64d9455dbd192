"""ChatGLM-6B (THUDM/chatglm-6b) written for this project on the installed torch + transformers.

The architecture as published, checked against the original implementation on a tiny checkpoint
(tests/model_service/test_chatglm6b_model.py, golden outputs from scripts/chatglm_golden.py):

- word embeddings -> `num_layers` GLM blocks -> final LayerNorm -> `lm_head` (tied to the embeddings);
- a block: `input_layernorm`; self-attention; residual `ln_out * alpha + attention`; `post_attention_layernorm`;
  MLP; residual `ln_out * alpha + mlp`. The residual adds the *normalised* input, and alpha is
  sqrt(2 * 28) from the block's own default of 28 layers, whatever config.num_layers says;
- attention: a fused `query_key_value` laid out per head as [q k v]; 2-D rotary: the first half of
  each head is rotated by the position, the second half by the block position (rotate-half layout,
  `inv_freq` rounded to fp16 and recomputed, the checkpoint's copy ignored); the query divided by
  sqrt(head_dim) * (layer_index + 1) and the scores multiplied back by (layer_index + 1) in fp32
  before the softmax; masked scores set to -10000;
- positions: 0, 1, 2... up to the `[gMASK]` token, then every later token keeps `[gMASK]`'s index,
  while block positions are 0 over the prompt and 1, 2, 3... from `<sop>` on; attention is
  bidirectional over the prompt (everything before `<sop>`) and causal after it;
- MLP: `dense_h_to_4h`, GELU (tanh approximation), `dense_4h_to_h`.

Tensors are kept as [batch, seq, ...] (the original uses [seq, batch, ...]); the arithmetic is the same.
Only batch size 1 is what the service uses; batches work when every row has the same layout.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import transformers
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from model_service.backends.chatglm6b.cache import new_cache
from model_service.backends.chatglm6b.configuration import ChatGLMConfig
from model_service.backends.chatglm6b.cpu import this_cpu
from model_service.backends.chatglm6b.native import Bf16Gemv, bf16_head_is_ours, bf16_kernel
from model_service.backends.chatglm6b.quantization import LINEAR_NAMES, QuantizedLinear

ALPHA = (2 * 28) ** 0.5  # GLMBlock's default num_layers=28, never overridden by the original model
MASKED_SCORE = -10000.0
# transformers 5 calls the KV cache `cache`; 4.x called it `past_key_values`.
CACHE_FIELD = "cache" if "cache" in {f.name for f in dataclasses.fields(CausalLMOutputWithPast)} else "past_key_values"
_TRANSFORMERS_5 = int(transformers.__version__.split(".")[0]) >= 5


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation, written as the original writes it (same operation order)."""
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * x * (1.0 + 0.044715 * x * x)))


def fused_gelu_(x: torch.Tensor) -> torch.Tensor:
    """The same GELU in one pass, in place (torch's tanh form): within 2.4e-7 of `gelu` on N(0, 1) inputs, both as
    close to float64; for a 600-token prompt's [600, 16384] activations 9 ms instead of 86 (the original's nine
    element-wise passes, each into fresh memory), 2 s of a 12 s prompt over 28 layers. `x` must be the caller's
    own (a linear's fresh output)."""
    return torch.ops.aten.gelu_(x, approximate="tanh")


def _computes_fast(linear: nn.Module) -> bool:
    """A quantized linear on its kernels (activations already rounded to int8 or bf16), where the last bit of
    the GELU does not matter; the original's own formula elsewhere, `compute: exact` included."""
    return isinstance(linear, QuantizedLinear) and not linear.exact


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class RotaryTables:
    """cos/sin tables of one rotary half-head; `inv_freq` rounded to fp16 as the original computes it.

    Not a module buffer: the checkpoint's `rotary_emb.inv_freq` copies are ignored (as the original's
    `_load_from_state_dict` ignores them) and nothing here ever sits on the meta device.
    """

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        self.dim, self.base = dim, base  # tensors are made on first use: __init__ may run on the meta device
        self._tables: dict[tuple[Any, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def get(self, length: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin, [length, dim], in `dtype`; fp16 models compute them in fp16 like the original."""
        key = (device, dtype)
        cached = self._tables.get(key)
        if cached is None or cached[0].shape[0] < length:
            compute = torch.float16 if dtype == torch.float16 else torch.float32
            exponents = torch.arange(0, self.dim, 2, device=device).float() / self.dim
            inv_freq = (1.0 / (self.base**exponents)).half().to(compute)
            steps = torch.arange(max(length, 64), device=device, dtype=compute)
            freqs = torch.outer(steps, inv_freq)
            angles = torch.cat((freqs, freqs), dim=-1)
            cached = (angles.cos().to(dtype), angles.sin().to(dtype))
            self._tables[key] = cached
        return cached[0][:length], cached[1][:length]


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [b, s, heads, d]; cos/sin [b, s, 1, d] already gathered at each token's position."""
    return x * cos + rotate_half(x) * sin


class SelfAttention(nn.Module):
    def __init__(self, config: ChatGLMConfig, layer_index: int) -> None:
        super().__init__()
        self.layer_index = layer_index
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(
        self,
        hidden: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        cache: Cache | None,
    ) -> torch.Tensor:
        batch, length, _ = hidden.shape
        fused = self.query_key_value(hidden).view(batch, length, self.num_heads, 3 * self.head_dim)
        query, key, value = fused.split(self.head_dim, dim=-1)  # per head: [q k v]
        cos_pos, sin_pos, cos_block, sin_block = rotary
        q_pos, q_block = query.chunk(2, dim=-1)
        k_pos, k_block = key.chunk(2, dim=-1)
        query = torch.cat((apply_rotary(q_pos, cos_pos, sin_pos), apply_rotary(q_block, cos_block, sin_block)), -1)
        key = torch.cat((apply_rotary(k_pos, cos_pos, sin_pos), apply_rotary(k_block, cos_block, sin_block)), -1)
        query, key, value = (t.transpose(1, 2) for t in (query, key, value))  # [b, heads, s, d]
        if cache is not None:
            key, value = cache.update(key, value, self.layer_index)
        if length > 1 and _computes_fast(self.query_key_value):
            context = _fused_attention(query, key, value, mask)
        else:
            context = self._original_attention(query, key, value, mask)
        return self.dense(context.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim))

    def _original_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """The original's arithmetic. Query-key layer scaling: divide by (layer + 1) in the model dtype, multiply
        back in fp32."""
        coefficient = float(self.layer_index + 1)
        query = query / (math.sqrt(self.head_dim) * coefficient)
        scores = torch.matmul(query, key.transpose(-1, -2))
        if mask is not None:
            scores.masked_fill_(mask, MASKED_SCORE)  # in place (a fresh tensor): the same numbers, one pass less
        scores = scores.float()
        probs = torch.softmax(scores.mul_(coefficient), dim=-1).to(value.dtype)
        return torch.matmul(probs, value)


def _fused_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """A prompt's attention in torch's fused kernel (never the whole [heads, s, s] score matrix in memory): the
    same softmax(q k^T / sqrt(d)) as the original's scaled, masked form up to rounding (7.7e-7 on outputs of 0.6
    for 600 tokens), where the original's masked scores (-10000 times the layer's coefficient) already weigh
    exactly 0 in fp32; 31 ms instead of 49 per layer at 600 tokens. For quantized linears on their kernels."""
    allowed = None if mask is None else ~mask
    return nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=allowed)


class GLU(nn.Module):
    """ChatGLM's MLP (named GLU in the original, though it is a plain GELU MLP)."""

    def __init__(self, config: ChatGLMConfig) -> None:
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, config.inner_hidden_size)
        self.dense_4h_to_h = nn.Linear(config.inner_hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        inner = self.dense_h_to_4h(hidden)
        return self.dense_4h_to_h(fused_gelu_(inner) if _computes_fast(self.dense_h_to_4h) else gelu(inner))


class GLMBlock(nn.Module):
    def __init__(self, config: ChatGLMConfig, layer_index: int) -> None:
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layernorm_epsilon)
        self.attention = SelfAttention(config, layer_index)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layernorm_epsilon)
        self.mlp = GLU(config)

    def forward(self, hidden: torch.Tensor, rotary: Any, mask: torch.Tensor | None, cache: Cache | None) -> Any:
        attention_input = self.input_layernorm(hidden)
        hidden = attention_input * ALPHA + self.attention(attention_input, rotary, mask, cache)
        mlp_input = self.post_attention_layernorm(hidden)
        return mlp_input * ALPHA + self.mlp(mlp_input)


class ChatGLMPreTrainedModel(PreTrainedModel):
    config_class = ChatGLMConfig
    base_model_prefix = "transformer"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _no_split_modules = ["GLMBlock"]  # noqa: RUF012
    _keys_to_ignore_on_load_unexpected = [r"rotary_emb\.inv_freq"]  # noqa: RUF012 - recomputed, as the original does
    _supports_cache_class = True  # transformers 4.x: generate() hands us a DynamicCache

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Random init for models built from a config (tests); checkpoints overwrite all of it."""
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, 0.02)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, 0.02)
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()

    # -- positions and mask, from the token ids, as ChatGLM-6B defines them -------------------

    def _context_length(self, row: list[int]) -> int:
        """Tokens before `<sop>` (the prompt); the whole row when there is no `<sop>`."""
        bos = self.config.bos_token_id
        return row.index(bos) if bos in row else len(row)

    def _mask_position(self, row: list[int]) -> int:
        gmask, mask = self.config.gmask_token_id, self.config.mask_token_id
        token = gmask if gmask in row else mask
        return row.index(token) if token in row else len(row) - 1

    def position_ids_for(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[batch, 2, seq]: positions (frozen at the mask token after the prompt) and block positions."""
        rows = []
        length = input_ids.shape[1]
        for row in input_ids.tolist():
            context, mask_at = self._context_length(row), self._mask_position(row)
            positions = list(range(context)) + [mask_at] * (length - context)
            blocks = [0] * context + list(range(1, length - context + 1))
            rows.append([positions, blocks])
        return torch.tensor(rows, dtype=torch.long, device=input_ids.device)

    def attention_mask_for(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[batch, 1, seq, seq] bool, True where attention is masked: bidirectional prompt, causal reply."""
        batch, length = input_ids.shape
        allowed = torch.ones(batch, length, length, device=input_ids.device).tril_()
        for index, row in enumerate(input_ids.tolist()):
            allowed[index, :, : self._context_length(row)] = 1
        return (allowed < 0.5).unsqueeze(1)


class ChatGLMModel(ChatGLMPreTrainedModel):
    """The stack without the head: embeddings, blocks, final LayerNorm."""

    def __init__(self, config: ChatGLMConfig) -> None:
        super().__init__(config)
        _check_supported(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([GLMBlock(config, index) for index in range(config.num_layers)])
        self.final_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layernorm_epsilon)
        head_dim = config.hidden_size // config.num_attention_heads
        self.rotary = RotaryTables(head_dim // 2)
        if config.quantization_bit:
            _use_quantized_linears(self.layers, config.quantization_bit)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        cache = cache if cache is not None else past_key_values
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if input_ids is None:
            raise ValueError("ChatGLM-6B needs input_ids: its positions and mask come from the <sop>/[gMASK] tokens")
        if use_cache and cache is None:
            cache = new_cache()
        past = cache.get_seq_length() if cache is not None else 0
        hidden = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        # Embeddings may be held narrower than the blocks compute (bf16 beside fp32 on CPU, when quantized).
        hidden = hidden.to(self.final_layernorm.weight.dtype)
        if position_ids is None:
            if past:
                raise ValueError("with a KV cache, pass position_ids (prepare_inputs_for_generation computes them)")
            position_ids = self.position_ids_for(input_ids)
        if attention_mask is None or attention_mask.dtype != torch.bool:
            # A 0/1 padding mask (what generate() makes) means nothing to ChatGLM-6B, as in the original.
            attention_mask = self.attention_mask_for(input_ids) if not past else None
        rotary = self._rotary(position_ids, hidden.dtype)
        for block in self.layers:
            hidden = block(hidden, rotary, attention_mask, cache if use_cache else None)
        hidden = self.final_layernorm(hidden)
        return BaseModelOutputWithPast(last_hidden_state=hidden, **{CACHE_FIELD: cache if use_cache else None})

    def _rotary(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """cos/sin gathered at each token's position and block position: four [b, s, 1, d] tensors."""
        cos, sin = self.rotary.get(int(position_ids.max()) + 1, position_ids.device, dtype)
        positions, blocks = position_ids[:, 0, :], position_ids[:, 1, :]
        return tuple(table[index].unsqueeze(2) for index in (positions, blocks) for table in (cos, sin))


def _check_supported(config: ChatGLMConfig) -> None:
    if not config.position_encoding_2d:
        raise ValueError("position_encoding_2d: false is not supported (ChatGLM-6B uses 2-D positions)")
    if config.pre_seq_len:
        raise ValueError("P-tuning v2 prefixes (pre_seq_len) are not supported; merge them or use the base model")
    if config.quantization_embeddings:
        raise ValueError("quantized embeddings (quantization_embeddings: true) are not supported")
    if config.quantization_bit not in (0, 4, 8):
        raise ValueError(f"quantization_bit must be 0, 4 or 8, not {config.quantization_bit}")


def _use_quantized_linears(layers: nn.ModuleList, bits: int) -> None:
    """The pre-quantized checkpoints' layout: the four linears of each block hold int8/int4 weights."""
    for block in layers:
        for name in LINEAR_NAMES:
            parent_name, child = name.split(".")
            parent = getattr(block, parent_name)
            linear: nn.Linear = getattr(parent, child)
            quantized = QuantizedLinear(
                linear.in_features, linear.out_features, bits, device=linear.weight.device, dtype=linear.weight.dtype
            )
            setattr(parent, child, quantized)


class ChatGLMForConditionalGeneration(ChatGLMPreTrainedModel, GenerationMixin):
    """ChatGLM-6B with its language-model head; `generate()` works with streamers, greedy or sampling."""

    if _TRANSFORMERS_5:
        _tied_weights_keys = {"lm_head.weight": "transformer.word_embeddings.weight"}
    else:
        _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config: ChatGLMConfig) -> None:
        super().__init__(config)
        self.transformer = ChatGLMModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.transformer.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.transformer.word_embeddings = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        outputs = self.transformer(
            input_ids=input_ids,
            position_ids=position_ids,
            attention_mask=attention_mask,
            cache=cache if cache is not None else past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
        )
        hidden = outputs.last_hidden_state
        if logits_to_keep:  # generate() only needs the last position: skip 130k-wide logits for the prompt
            hidden = hidden[:, -logits_to_keep:, :]
        logits = self._output_logits(hidden)
        result = CausalLMOutputWithPast(logits=logits, **{CACHE_FIELD: getattr(outputs, CACHE_FIELD)})
        return result if return_dict is not False else result.to_tuple()

    def _prepare_cache_for_generation(
        self, generation_config: Any, model_kwargs: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        """generate()'s default cache, appending in place instead of concatenating (see cache.py)."""
        default = generation_config.cache_implementation in (None, "dynamic")
        if model_kwargs.get(CACHE_FIELD) is None and generation_config.use_cache is not False and default:
            model_kwargs[CACHE_FIELD] = new_cache()
            return None
        return super()._prepare_cache_for_generation(generation_config, model_kwargs, *args, **kwargs)

    def _output_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        head = self.lm_head.weight
        if head.dtype == hidden.dtype:
            return self.lm_head(hidden)
        # A narrower output matrix (bf16 beside fp32 blocks: quantized, on CPU). For the one row of a
        # decoding step a matrix-vector product reads it at the memory's speed (48 ms for 1.07 GB on
        # Intel with AMX, where a 1-row linear takes 75 ms; bench/bench_chatglm_cpu.py). torch's takes
        # ~200 ms of CPU on AMD Zen 4, so int4_gemv.c's bf16_gemv runs it on CPUs without AMX (fp32 throughout).
        if hidden.shape[:-1].numel() == 1:
            ours = head.device.type == "cpu" and Bf16Gemv.fits(head) and bf16_head_is_ours(this_cpu())
            kernel = bf16_kernel() if ours else None
            if kernel is not None and head.is_contiguous():
                return kernel(head, hidden.reshape(-1)).reshape(*hidden.shape[:-1], head.shape[0])
            row = hidden.reshape(-1).to(head.dtype)
            return torch.mv(head, row).float().reshape(*hidden.shape[:-1], head.shape[0])
        return self.lm_head(hidden.to(head.dtype)).float()

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        cache: Cache | None = None,
        past_key_values: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Positions from the whole sequence (as the original does each step); only new tokens go in."""
        cache = cache if cache is not None else past_key_values
        past = cache.get_seq_length() if cache is not None else 0
        position_ids = self.position_ids_for(input_ids)[..., past:]
        mask = None
        if past == 0:
            mask = attention_mask if attention_mask is not None and attention_mask.dtype == torch.bool else None
        inputs: dict[str, Any] = {
            "input_ids": input_ids[:, past:],
            "position_ids": position_ids,
            "attention_mask": mask,
            CACHE_FIELD: cache,
            "use_cache": use_cache,
        }
        if logits_to_keep is not None:
            inputs["logits_to_keep"] = logits_to_keep
        return inputs

    def compute_exactly(self) -> int:
        """Quantized linears dequantize to the activations' dtype and multiply there, as the original does
        (fp32 on CPU); returns how many. Load the model in fp32, embeddings included, for the original's numbers."""
        layers = [module for module in self.modules() if isinstance(module, QuantizedLinear)]
        for layer in layers:
            layer.compute_exactly()
        return len(layers)

    def pack_quantized(self) -> int:
        """Convert quantized weights to the CPU kernels' format now rather than on the first request."""
        layers = [module for module in self.modules() if isinstance(module, QuantizedLinear)]
        for layer in layers:
            layer.pack()
        return len(layers)
