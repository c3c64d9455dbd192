"""Record what ChatGLM-6B's ORIGINAL model code outputs on a tiny random checkpoint, as goldens.

Run it in a scratch venv with the original's stack (transformers 4.33.3, the same torch as the
project), never the project's venv:

    python3 -m venv /work/scratch/orig-venv
    /work/scratch/orig-venv/bin/pip install torch==2.13.0 'transformers==4.33.3' sentencepiece accelerate
    /work/scratch/orig-venv/bin/python scripts/chatglm_golden.py \\
        --mirror /work/.mirror/greensheng+chatglm-6b/repo   # or --original DIR holding its .py files
    /work/scratch/orig-venv/bin/python scripts/chatglm_golden.py --quantized --mirror ...

The tiny checkpoint is written by tests/model_service/glm_checkpoint.py (fp32, seed 0, one
pytorch_model.bin); the original's modeling_chatglm.py, configuration_chatglm.py,
tokenization_chatglm.py and quantization.py are copied next to it in a temporary folder (never
into this repository) and loaded with trust_remote_code, in fp32 on the CPU. Recorded in
tests/model_service/golden/model.json:

- `logits`: for one prompt, the full forward's logits at the last prompt position, and the logits
  of three greedy steps taken with the KV cache (prepare_inputs_for_generation's path);
- `greedy`: `generate(do_sample=False)` token ids for several prompts (the ids the original
  tokenizer gives, and what it generates after them);
- `chat`: `chat(..., do_sample=False)` responses, single-turn and with history, Chinese and English.

With `--quantized`, the same is recorded for the int8 and int4 checkpoints (the same float weights,
quantized as published) through the original's own quantized forward on the CPU, computed in fp32
as its CPU path computes it, into tests/model_service/golden/model_quantized.json: the goldens that
`model_service.chatglm.compute: exact` answers exactly. The original's quantization.py only ships
CUDA kernels for unpacking the weights; here a CPU stand-in does that step, computing what the
original's CPU kernel (`extract_int4_weight_to_float` / `extract_int8_weight_to_float` in the -int4
checkpoint's quantization_kernels.c) computes: for each byte, the high nibble as signed column 2j and
the low nibble as signed column 2j+1 (int8: the byte), each times the row's scale in fp32; the rest
(its QuantizedLinear, `inp.mm(weight.t())` plus bias, the whole model after `.float()`) is the
original's code.

tests/model_service/test_chatglm6b_model.py rebuilds the same checkpoint and checks the project's
model against these (logits within fp32's rounding bound, tests/model_service/fp32_bounds.py;
token ids and responses exactly where the greedy margins decide them, which is everywhere here).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.model_service.glm_checkpoint import write_checkpoint  # noqa: E402

ORIGINAL_FILES = ("configuration_chatglm.py", "modeling_chatglm.py", "tokenization_chatglm.py", "quantization.py")
OUTPUT = REPO / "tests" / "model_service" / "golden" / "model.json"
QUANTIZED_OUTPUT = REPO / "tests" / "model_service" / "golden" / "model_quantized.json"
QUANTIZED_VARIANTS = ("int8", "int4")
SEED = 0
NEW_TOKENS = 24
LOGITS_PROMPT = "你好，请问海龟汤是什么？"
GREEDY_PROMPTS = ["Hello world!", "他是自杀吗？", "汤面：一个男人走进餐厅，点了一碗海龟汤。\n\t他喝了一口。   为什么？"]
CHATS: list[dict[str, Any]] = [
    {"query": "你好", "history": []},
    {"query": "Is he dead?", "history": []},
    {"query": "和船有关吗？", "history": [["他是自杀吗？", "是。"]]},
    {
        "query": "What's the answer?",
        "history": [["The man walked into a restaurant.", "不相关"], ["Is he dead?", "Yes, he is."]],
    },
]


def copy_original(mirror: Path | None, original: Path | None, into: Path) -> None:
    for name in ORIGINAL_FILES:
        if original is not None:
            shutil.copy(original / name, into / name)
        else:
            text = subprocess.run(
                ["git", "-C", str(mirror), "show", f"HEAD:{name}"], check=True, capture_output=True
            ).stdout
            (into / name).write_bytes(text)


def load_original(folder: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=True)
    model = AutoModel.from_pretrained(str(folder), trust_remote_code=True, low_cpu_mem_usage=False)
    model = model.float().eval()
    torch.set_grad_enabled(False)
    return tokenizer, model


def weights_on_cpu(quant_w: Any, scale_w: Any, bits: int) -> Any:
    """What the original's CPU kernel makes of a quantized weight: fp32 [out, in], value * row scale."""
    import torch

    if bits == 8:
        values = quant_w.to(torch.float32)
    else:
        high = torch.bitwise_right_shift(quant_w, 4)  # int8: an arithmetic shift keeps the sign
        low = torch.bitwise_right_shift(torch.bitwise_left_shift(quant_w, 4), 4)
        values = torch.stack((high, low), dim=-1).reshape(quant_w.shape[0], -1).to(torch.float32)
    return values * scale_w.to(torch.float32)[:, None]


def load_original_quantized(folder: Path) -> tuple[Any, Any]:
    """The original with config.json's quantization_bit, its CUDA-only weight unpacking done on the CPU."""
    import torch

    current_device = torch.cuda.current_device
    torch.cuda.current_device = lambda: "cpu"  # quantize() moves each float weight there first
    try:
        tokenizer, model = load_original(folder)
    finally:
        torch.cuda.current_device = current_device
    quantization = sys.modules[type(model.transformer.layers[0].mlp.dense_h_to_4h).__module__]
    quantization.extract_weight_to_half = weights_on_cpu
    return tokenizer, model


def record_logits(tokenizer: Any, model: Any) -> dict[str, Any]:
    import torch

    ids = tokenizer([LOGITS_PROMPT], return_tensors="pt")["input_ids"]
    full = model(input_ids=ids).logits[0, -1]
    # Three greedy steps through the original's own cache path.
    inputs = model.prepare_inputs_for_generation(ids)
    out = model(**inputs, return_dict=True, use_cache=True)
    steps, sequence = [], ids
    for _ in range(3):
        token = out.logits[0, -1].argmax().view(1, 1)
        sequence = torch.cat([sequence, token], dim=-1)
        inputs = model.prepare_inputs_for_generation(sequence, past_key_values=out.past_key_values)
        out = model(**inputs, return_dict=True, use_cache=True)
        steps.append(out.logits[0, -1].tolist())
    return {
        "prompt": LOGITS_PROMPT,
        "input_ids": ids[0].tolist(),
        "last_prompt_position": full.tolist(),
        "cached_steps_sequence": sequence[0].tolist(),
        "cached_steps": steps,
    }


def record_greedy(tokenizer: Any, model: Any) -> list[dict[str, Any]]:
    records = []
    for prompt in GREEDY_PROMPTS:
        ids = tokenizer([prompt], return_tensors="pt")["input_ids"]
        output = model.generate(input_ids=ids, max_new_tokens=NEW_TOKENS, do_sample=False)
        records.append({"prompt": prompt, "input_ids": ids[0].tolist(), "output_ids": output[0].tolist()})
    return records


def record_chats(tokenizer: Any, model: Any) -> list[dict[str, Any]]:
    records = []
    for case in CHATS:
        history = [tuple(turn) for turn in case["history"]]
        response, _ = model.chat(tokenizer, case["query"], history=history, do_sample=False, max_new_tokens=NEW_TOKENS)
        records.append({**case, "response": response})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--mirror", type=Path, help="git directory of THUDM/chatglm-6b (files read from HEAD)")
    source.add_argument("--original", type=Path, help="folder holding the original .py files")
    parser.add_argument("--quantized", action="store_true", help="record the int8 and int4 checkpoints instead")
    parser.add_argument("--out", type=Path, help=f"default {OUTPUT} ({QUANTIZED_OUTPUT} with --quantized)")
    args = parser.parse_args()
    out = args.out or (QUANTIZED_OUTPUT if args.quantized else OUTPUT)
    import torch
    import transformers

    with tempfile.TemporaryDirectory(prefix="chatglm-golden-") as tmp:
        if args.quantized:
            golden = {
                variant: record(Path(tmp) / variant, variant, args.mirror, args.original)
                for variant in QUANTIZED_VARIANTS
            }
        else:
            golden = record(Path(tmp) / "fp32", "fp32", args.mirror, args.original)
    golden = {
        "generated_by": "scripts/chatglm_golden.py (original THUDM/chatglm-6b code, trust_remote_code)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        **golden,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def record(folder: Path, variant: Any, mirror: Path | None, original: Path | None) -> dict[str, Any]:
    """Every golden of one checkpoint variant, run through the original's code."""
    write_checkpoint(folder, variant=variant, layout="single", seed=SEED)
    copy_original(mirror, original, folder)
    tokenizer, model = load_original(folder) if variant == "fp32" else load_original_quantized(folder)
    return {
        "checkpoint": {"variant": variant, "layout": "single", "seed": SEED},
        "new_tokens": NEW_TOKENS,
        "logits": record_logits(tokenizer, model),
        "greedy": record_greedy(tokenizer, model),
        "chat": record_chats(tokenizer, model),
    }


if __name__ == "__main__":
    main()
