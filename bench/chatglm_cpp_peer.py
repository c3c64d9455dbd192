"""The peer figure: chatglm-cpp (li-plus/chatglm.cpp, PyPI) on the same random ChatGLM-6B checkpoint.

Runs under the Python of chatglm-cpp's own virtual environment, never the project's (chatglm-cpp is
not a project dependency), so it imports only the standard library at the top:

    <cpp-python> bench/chatglm_cpp_peer.py convert --checkpoint FOLDER --out MODEL.bin [--type q4_0]
    <cpp-python> bench/chatglm_cpp_peer.py measure --model MODEL.bin --prompt-ids IDS.json --new-tokens N

`convert` calls chatglm-cpp's own converter (`chatglm_cpp.convert.ChatGLMConverter`) on the
checkpoint's state dict and config, read here without the checkpoint's remote code: the converter
only needs `model.config`, `model.state_dict()` and the sentencepiece model, and it dequantizes
int4/int8 weights itself (so it needs torch, tqdm, tabulate and transformers in that venv).
Tensors are read one at a time from a memory-mapped file, so converting takes little RAM.

`measure` feeds fixed prompt token ids to `model.generate_next_token`, greedy, and prints one JSON
line: time to first token, decode tokens/s and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class LazyStateDict(Mapping):
    """The checkpoint's tensors by name, loaded on access from memory-mapped files; lm_head falls back
    to the word embeddings (the int4 file has no lm_head, the model ties them)."""

    def __init__(self, folder: Path) -> None:
        import torch

        index = folder / "pytorch_model.bin.index.json"
        files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else None
        self.parts = [
            torch.load(folder / name, mmap=True, weights_only=True, map_location="cpu")
            for name in (files or ["pytorch_model.bin"])
        ]
        self._last: tuple[str, Any] = ("", None)

    def __getitem__(self, name: str) -> Any:
        if name == "lm_head.weight" and not any(name in part for part in self.parts):
            name = "transformer.word_embeddings.weight"
        # The converter asks for the 130,528 x 4,096 matrix three times in a row: convert it once.
        if self._last[0] != name:
            self._last = (name, self._load(name))
        return self._last[1]

    def _load(self, name: str) -> Any:
        for part in self.parts:
            if name in part:
                return part[name].float() if part[name].is_floating_point() else part[name]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        for part in self.parts:
            yield from part

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)


def convert(checkpoint: Path, out: Path, ggml_type: str) -> None:
    from chatglm_cpp import convert as converter

    config = json.loads((checkpoint / "config.json").read_text())
    state = LazyStateDict(checkpoint)
    model = SimpleNamespace(config=SimpleNamespace(pre_seq_len=None, **config), state_dict=lambda: state)
    proto = (checkpoint / "ice_text.model").read_bytes()
    # The converter reads the serialized sentencepiece model from the tokenizer's inner processor.
    tokenizer = SimpleNamespace(
        sp_tokenizer=SimpleNamespace(
            text_tokenizer=SimpleNamespace(sp=SimpleNamespace(serialized_model_proto=lambda: proto))
        )
    )
    started = time.perf_counter()
    with open(out, "wb") as f:
        converter.ChatGLMConverter.convert(f, model, tokenizer, converter.GGMLType[ggml_type.upper()])
    print(json.dumps({"converted_s": time.perf_counter() - started, "bytes": out.stat().st_size}))


def measure(model_path: Path, prompt_ids: list[int], new_tokens: int) -> dict[str, Any]:
    import chatglm_cpp

    started = time.perf_counter()
    pipeline = chatglm_cpp.Pipeline(str(model_path), max_length=len(prompt_ids) + new_tokens + 8)
    loaded_s = time.perf_counter() - started
    config = chatglm_cpp._C.GenerationConfig(
        max_length=len(prompt_ids) + new_tokens + 8,
        max_new_tokens=new_tokens,
        max_context_length=len(prompt_ids) + 8,
        do_sample=False,
    )
    model = pipeline.model
    warm = prompt_ids[-8:]  # a short prompt first: the first call sets up buffers and pages weights in
    generate(model, warm, 2, config)
    times = generate(model, prompt_ids, new_tokens, config)
    return {
        "load_s": loaded_s,
        "ttft_s": times[0],
        "decode_tokens_per_s": (len(times) - 1) / (times[-1] - times[0]),
        "new_tokens": len(times),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def generate(model: Any, prompt_ids: list[int], new_tokens: int, config: Any) -> list[float]:
    """Seconds from the call to each new token, the way chatglm-cpp's Pipeline drives its model."""
    ids, n_past, n_ctx, times = list(prompt_ids), 0, len(prompt_ids), []
    started = time.perf_counter()
    for _ in range(new_tokens):
        token = model.generate_next_token(ids, None, config, n_past, n_ctx)
        times.append(time.perf_counter() - started)
        n_past = len(ids)
        ids.append(token)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    to_ggml = commands.add_parser("convert", help="write chatglm-cpp's GGML file from a ChatGLM-6B folder")
    to_ggml.add_argument("--checkpoint", type=Path, required=True)
    to_ggml.add_argument("--out", type=Path, required=True)
    to_ggml.add_argument("--type", default="q4_0", help="GGML type (default q4_0)")
    timing = commands.add_parser("measure", help="time prefill and decode on fixed token ids")
    timing.add_argument("--model", type=Path, required=True)
    timing.add_argument("--prompt-ids", type=Path, required=True, help="JSON list of prompt token ids")
    timing.add_argument("--new-tokens", type=int, default=48)
    args = parser.parse_args()
    if args.command == "convert":
        convert(args.checkpoint, args.out, args.type)
    else:
        result = measure(args.model, json.loads(args.prompt_ids.read_text()), args.new_tokens)
        print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
