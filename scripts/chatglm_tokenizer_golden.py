"""Record what ChatGLM-6B's ORIGINAL tokenizer and chat() do on the tiny test tokenizer, as goldens.

Run it in a scratch venv with the original's stack (transformers 4.33.3, torch, sentencepiece), never
the project's:

    python3 -m venv /work/scratch/orig-venv
    /work/scratch/orig-venv/bin/pip install torch==2.13.0 'transformers==4.33.3' sentencepiece accelerate
    /work/scratch/orig-venv/bin/python scripts/chatglm_tokenizer_golden.py \\
        --mirror /path/to/git/of/THUDM/chatglm-6b  # or --original DIR holding its .py files

The original's tokenization_chatglm.py, modeling_chatglm.py and configuration_chatglm.py are copied
to a temporary folder (never into this repository) and imported from there. For each
num_image_tokens (0 and 20,000) the tiny ice_text.model of tests/model_service/glm_spm.py is
written, and the script records encodings, decodings, chat() prompts and responses (chat() runs
with a stand-in `generate` that returns chosen reply tokens) and stream_chat()'s successive texts
to tests/model_service/golden/tokenizer.json, which tests/model_service/test_chatglm6b_*.py compare
the project's own code against.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.model_service.glm_spm import model_bytes, write_tokenizer_files  # noqa: E402

ORIGINAL_FILES = ("tokenization_chatglm.py", "modeling_chatglm.py", "configuration_chatglm.py")
OUTPUT = REPO / "tests" / "model_service" / "golden" / "tokenizer.json"
IMAGE_TOKEN_COUNTS = (0, 20000)

SPACE_RUNS = [f"a{' ' * length}b" for length in range(1, 91)]
TEXTS = [
    "",
    " ",
    "你好",
    "汤面：一个男人走进餐厅，点了一碗海龟汤。他喝了一口，然后回家自杀了。为什么？",
    "The man walked into a restaurant and ordered turtle soup. Is he dead?",
    "Is he dead ? Yes , he is ! Really .",
    "I don 't know , it isn 't clear ; you 're right , we 've seen it , I 'm sure it 's fine ' ok ' .",
    "Hello world!\nWhat's the answer?\n\nI don't know.",
    "def main():\n\tprint('hello world')\t# greeting",
    "def main():\n    print('hello world')  # greeting",
    "tabs\t\tand\t \tspaces",
    "  leading and trailing  ",
    "\n\nnewlines\n\n\n",
    "emoji 👋🐢🍲 and rare 龘 characters",
    "你好👋！我是人工智能助手 ChatGLM-6B，很高兴见到你，欢迎问我任何问题。",
    "他是自杀吗,是的!不是:不重要;为什么?好",
    "a,中 中,a 中!中 a:b 中;中 x?y 中?",
    "mixed：punctuation，“quoted”（paren）《book》…—",
    "special <sop> tokens <eop> in  <pad>text<unk> and [MASK] [gMASK] [sMASK]",
    "literal <n> and <|tab|> and <|blank_3|> in text",
    "[[训练时间]]是什么时候",
    "[Round 0]\n问：你好\n答：你好\n[Round 1]\n问：晚上睡不着应该怎么办\n答：",
    *SPACE_RUNS,
]

# (query, history, reply text the stand-in model "generates")
CHATS: list[tuple[str, list[tuple[str, str]], str]] = [
    ("你好", [], "你好👋!我是人工智能助手 ChatGLM-6B,很高兴见到你,欢迎问我任何问题。"),
    ("他是自杀吗？", [("汤面：男人死了。\n\n他是灯塔看守者吗？", "是。")], "不是 , 他不是自杀 ! 是吗 ?"),
    ("Is he dead?", [("a", "b"), ("c", "d")], "  Yes , he is dead . He didn 't know .  "),
    ("训练时间?", [], "我的训练时间是[[训练时间]],好吗?中:文;中!中,"),
    ("tabs", [], "\tcode:\n    x = 1\t# one\n"),
    ("空", [], ""),
    ("emoji", [("q", "a")], "🐢 soup: 海龟汤;  ok ?"),
]

# Raw id lists decoded as they are (None = the pad id, "eop" = the eop id, "gmask" = the gMASK id).
RAW_DECODES: list[list[Any]] = [
    [],
    [None, None],
    ["eop"],
    ["gmask", "bos", "eop"],
    [0, 1, 2, 3, 4, 5],
]


def fetch_original(mirror: Path, folder: Path) -> None:
    for name in ORIGINAL_FILES:
        text = subprocess.run(
            ["git", "-C", str(mirror), "show", f"HEAD:{name}"], check=True, capture_output=True
        ).stdout
        (folder / name).write_bytes(text)


def load_original(original: Path) -> tuple[Any, Any]:
    """The original tokenizer class and model class, imported from a temporary package."""
    package_dir = Path(tempfile.mkdtemp(prefix="chatglm_original_"))
    package = package_dir / "chatglm_original"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ORIGINAL_FILES:
        shutil.copyfile(original / name, package / name)
    sys.path.insert(0, str(package_dir))
    tokenization = importlib.import_module("chatglm_original.tokenization_chatglm")
    modeling = importlib.import_module("chatglm_original.modeling_chatglm")
    return tokenization.ChatGLMTokenizer, modeling.ChatGLMForConditionalGeneration


class StandInModel:
    """Lets the original chat()/stream_chat() run without weights: 'generates' chosen reply ids."""

    def __init__(self, model_class: Any, reply_ids: list[int], eop: int) -> None:
        import torch

        self.device = torch.device("cpu")
        self.reply_ids = reply_ids
        self.eop = eop
        self.prompts: list[list[int]] = []
        self.process_response = model_class.process_response.__get__(self)

    def generate(self, input_ids: Any, **kwargs: Any) -> Any:
        import torch

        self.prompts.append(input_ids[0].tolist())
        return torch.tensor([input_ids[0].tolist() + self.reply_ids + [self.eop]])

    def stream_generate(self, input_ids: Any, **kwargs: Any) -> Any:
        import torch

        self.prompts.append(input_ids[0].tolist())
        for end in range(1, len(self.reply_ids) + 1):  # like the original: <eop> itself is never yielded
            yield torch.tensor([input_ids[0].tolist() + self.reply_ids[:end]])


def tokenizer_goldens(tokenizer: Any) -> dict[str, Any]:
    ids = {
        "bos": tokenizer.bos_token_id,
        "eos": tokenizer.eos_token_id,
        "mask": tokenizer.mask_token_id,
        "gmask": tokenizer.gmask_token_id,
        "pad": tokenizer.pad_token_id,
        "unk": tokenizer.unk_token_id,
        "vocab_size": tokenizer.vocab_size,
    }
    texts = []
    for text in TEXTS:
        encoded = tokenizer([text])["input_ids"][0]
        plain = tokenizer.encode(text, add_special_tokens=False)
        texts.append(
            {
                "text": text,
                "tokens": tokenizer.tokenize(text),
                "ids": encoded,
                "ids_plain": plain,
                "decoded": tokenizer.decode(encoded),
                "decoded_plain": tokenizer.decode(plain),
                "decoded_skip_special": tokenizer.decode(encoded, skip_special_tokens=True),
                "decoded_no_cleanup": tokenizer.decode(plain, clean_up_tokenization_spaces=False),
            }
        )
    named = {"eop": ids["eos"], "gmask": ids["gmask"], "bos": ids["bos"], None: ids["pad"]}
    raw = []
    for spec in RAW_DECODES:
        token_ids = [named[item] if item is None or isinstance(item, str) else item for item in spec]
        raw.append({"ids": token_ids, "decoded": tokenizer.decode(token_ids)})
    return {"special_ids": ids, "texts": texts, "raw_decodes": raw}


def chat_goldens(tokenizer: Any, model_class: Any) -> list[dict[str, Any]]:
    chats = []
    for query, history, reply in CHATS:
        reply_ids = tokenizer.encode(reply, add_special_tokens=False)
        model = StandInModel(model_class, reply_ids, tokenizer.eos_token_id)
        response, new_history = model_class.chat(model, tokenizer, query, history=[tuple(h) for h in history])
        streamed = [text for text, _ in model_class.stream_chat(model, tokenizer, query, history=history)]
        prompt_ids = model.prompts[0]
        chats.append(
            {
                "query": query,
                "history": history,
                "reply_ids": reply_ids,
                "prompt_ids": prompt_ids,
                "prompt_text": _prompt_text(query, history),
                "response": response,
                "streamed": streamed,
                "stream_prompt_ids": model.prompts[1],
                "history_after": [list(pair) for pair in new_history],
            }
        )
    return chats


def _prompt_text(query: str, history: list[tuple[str, str]]) -> str:
    """Only to make the golden file readable; the tests compare token ids, which chat() produced."""
    if not history:
        return query
    rounds = "".join(f"[Round {i}]\n问：{q}\n答：{a}\n" for i, (q, a) in enumerate(history))
    return f"{rounds}[Round {len(history)}]\n问：{query}\n答："


def process_response_goldens(model_class: Any) -> list[dict[str, str]]:
    samples = [
        "  你好 ",
        "中,文!中:文;中?文",
        ",中 !中 :中 ;中 ?中",
        "a,b!c:d;e?f",
        "中,,中",
        "[[训练时间]]",
        "中\\?中",
        "ｆｕｌｌ，中",
    ]
    return [{"text": text, "processed": model_class.process_response(None, text)} for text in samples]


def compact_json(value: Any, depth: int = 0) -> str:
    """JSON with one line per case, so that a changed golden shows as a readable diff."""
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(key)}: {compact_json(item, depth + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        items = [pad + json.dumps(item, ensure_ascii=False) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"
    return json.dumps(value, ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--mirror", type=Path, help="git directory of the original THUDM/chatglm-6b")
    source.add_argument("--original", type=Path, help="folder holding the original's .py files")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    import transformers

    work = Path(tempfile.mkdtemp(prefix="chatglm_golden_"))
    original = args.original
    if original is None:
        original = work / "original"
        original.mkdir()
        fetch_original(args.mirror, original)
    tokenizer_class, model_class = load_original(original)
    goldens: dict[str, Any] = {
        "transformers": transformers.__version__,
        "ice_text_sha256": hashlib.sha256(model_bytes()).hexdigest(),
        "by_num_image_tokens": {},
    }
    for count in IMAGE_TOKEN_COUNTS:
        folder = write_tokenizer_files(work / f"tokenizer-{count}", count)
        tokenizer = tokenizer_class.from_pretrained(str(folder))
        entry = tokenizer_goldens(tokenizer)
        entry["chats"] = chat_goldens(tokenizer, model_class)
        goldens["by_num_image_tokens"][str(count)] = entry
    goldens["process_response"] = process_response_goldens(model_class)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(compact_json(goldens) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
