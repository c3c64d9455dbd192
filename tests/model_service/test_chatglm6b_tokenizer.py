"""Our ChatGLM-6B tokenizer against goldens recorded from the original one (transformers 4.33.3).

tests/model_service/golden/tokenizer.json was written by scripts/chatglm_tokenizer_golden.py running
the original tokenization_chatglm.py on the same tiny ice_text.model these tests build.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from model_service.backends.chatglm6b.tokenization import ChatGLMTokenizer
from tests.model_service.glm_spm import all_pieces, model_bytes, special_token_ids, write_tokenizer_files

GOLDEN = json.loads((Path(__file__).parent / "golden" / "tokenizer.json").read_text(encoding="utf-8"))
COUNTS = sorted(GOLDEN["by_num_image_tokens"], key=int)

ROUND_TRIP_TEXTS = [
    "你好，世界。海龟汤是什么？",
    "The man walked into a restaurant and ordered turtle soup.",
    "tabs\tbetween\t\twords\t",
    "line one\nline two\n\n\nline five\n",
    "emoji 👋🐢🍲 and rare 龘 characters",
    " leading space and trailing ",
    *[f"x{' ' * length}y" for length in range(1, 91)],
    " " * 200,
]


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ChatGLMTokenizer]:
    built = {}
    for count in COUNTS:
        folder = write_tokenizer_files(tmp_path_factory.mktemp(f"tokenizer-{count}"), int(count))
        built[count] = ChatGLMTokenizer.from_pretrained(str(folder))
    return built


def test_the_tiny_model_is_the_one_the_goldens_were_recorded_on() -> None:
    assert model_bytes() == model_bytes()
    assert hashlib.sha256(model_bytes()).hexdigest() == GOLDEN["ice_text_sha256"]


@pytest.mark.parametrize("count", COUNTS)
def test_special_token_ids_are_piece_ids_plus_image_tokens(tokenizers: dict[str, ChatGLMTokenizer], count: str) -> None:
    tokenizer = tokenizers[count]
    ours = {
        "bos": tokenizer.bos_token_id,
        "eos": tokenizer.eos_token_id,
        "mask": tokenizer.mask_token_id,
        "gmask": tokenizer.gmask_token_id,
        "pad": tokenizer.pad_token_id,
        "unk": tokenizer.unk_token_id,
        "vocab_size": tokenizer.vocab_size,
    }
    assert ours == GOLDEN["by_num_image_tokens"][count]["special_ids"]
    fixture = special_token_ids(int(count))
    assert (ours["bos"], ours["eos"], ours["gmask"]) == (
        fixture["bos_token_id"],
        fixture["eos_token_id"],
        fixture["gmask_token_id"],
    )
    pieces = [piece for piece, _, _ in all_pieces()]
    assert ours["gmask"] == pieces.index("[gMASK]") + int(count)


def _ours(tokenizer: ChatGLMTokenizer, case: dict[str, Any]) -> dict[str, Any]:
    text = case["text"]
    return {
        "tokens": tokenizer.tokenize(text),
        "ids": tokenizer([text])["input_ids"][0],
        "ids_plain": tokenizer.encode(text, add_special_tokens=False),
        "decoded": tokenizer.decode(case["ids"]),
        "decoded_plain": tokenizer.decode(case["ids_plain"]),
        "decoded_skip_special": tokenizer.decode(case["ids"], skip_special_tokens=True),
        "decoded_no_cleanup": tokenizer.decode(case["ids_plain"], clean_up_tokenization_spaces=False),
    }


@pytest.mark.parametrize("count", COUNTS)
def test_encode_and_decode_match_the_original(tokenizers: dict[str, ChatGLMTokenizer], count: str) -> None:
    cases = GOLDEN["by_num_image_tokens"][count]["texts"]
    mismatches = []
    for case in cases:
        for key, value in _ours(tokenizers[count], case).items():
            if value != case[key]:
                mismatches.append((case["text"], key, value, case[key]))
    assert mismatches == []
    assert len(cases) > 100  # zh, en, tabs, newlines, emoji, punctuation, special tokens, space runs 1-90


@pytest.mark.parametrize("count", COUNTS)
def test_raw_id_lists_decode_as_the_original(tokenizers: dict[str, ChatGLMTokenizer], count: str) -> None:
    for case in GOLDEN["by_num_image_tokens"][count]["raw_decodes"]:
        assert tokenizers[count].decode(case["ids"]) == case["decoded"], case


def test_prompts_end_with_gmask_then_sop(tokenizers: dict[str, ChatGLMTokenizer]) -> None:
    tokenizer = tokenizers["0"]
    ids = tokenizer("他是自杀吗？")["input_ids"]
    assert ids[-2:] == [tokenizer.gmask_token_id, tokenizer.bos_token_id]
    assert tokenizer.convert_ids_to_tokens(ids[-2:]) == ["[gMASK]", "<sop>"]
    assert tokenizer.decode(ids) == "他是自杀吗？"  # control pieces decode to nothing


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_round_trip(tokenizers: dict[str, ChatGLMTokenizer], text: str) -> None:
    for tokenizer in tokenizers.values():
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert tokenizer.decode(ids, clean_up_tokenization_spaces=False) == text
        assert tokenizer.decode(tokenizer(text)["input_ids"], clean_up_tokenization_spaces=False) == text


def test_whitespace_tokens(tokenizers: dict[str, ChatGLMTokenizer]) -> None:
    tokenizer = tokenizers["0"]
    assert tokenizer.tokenize("a\tb\nc") == ["▁a", "<|tab|>", "b", "<n>", "c"]
    assert tokenizer.tokenize("x" + " " * 90 + "y") == ["▁x", "<|blank_80|>", "<|blank_10|>", "y"]


def test_save_and_reload(tokenizers: dict[str, ChatGLMTokenizer], tmp_path: Path) -> None:
    for count, tokenizer in tokenizers.items():
        folder = tmp_path / count
        tokenizer.save_pretrained(str(folder))
        assert (folder / "ice_text.model").read_bytes() == model_bytes()
        again = ChatGLMTokenizer.from_pretrained(str(folder))
        assert again.num_image_tokens == int(count)
        assert again.gmask_token_id == tokenizer.gmask_token_id
        text = "你好 ? world\n\tend"
        assert again(text)["input_ids"] == tokenizer(text)["input_ids"]
        assert again.decode(again(text)["input_ids"]) == tokenizer.decode(tokenizer(text)["input_ids"])


def test_ids_past_the_pieces_decode_to_nothing(tokenizers: dict[str, ChatGLMTokenizer]) -> None:
    tokenizer = tokenizers["0"]
    hello = tokenizer.encode("你好", add_special_tokens=False)
    assert tokenizer.decode([*hello, tokenizer.vocab_size + 5]) == "你好"


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    write_tokenizer_files(tmp_path)
    (tmp_path / "ice_text.model").unlink()
    with pytest.raises((ValueError, OSError), match=r"ice_text\.model"):
        ChatGLMTokenizer.from_pretrained(str(tmp_path))


def test_a_sentencepiece_model_without_glm_pieces_is_refused(tmp_path: Path) -> None:
    write_tokenizer_files(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["gmask_token"] = "[NOPE]"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match=r"no piece for \[NOPE\]"):
        ChatGLMTokenizer.from_pretrained(str(tmp_path))


def test_a_file_that_is_not_sentencepiece_is_refused(tmp_path: Path) -> None:
    write_tokenizer_files(tmp_path)
    (tmp_path / "ice_text.model").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(ValueError, match="not a sentencepiece model"):
        ChatGLMTokenizer.from_pretrained(str(tmp_path))


def test_bad_num_image_tokens_is_refused(tmp_path: Path) -> None:
    write_tokenizer_files(tmp_path)
    with pytest.raises(ValueError, match="num_image_tokens"):
        ChatGLMTokenizer.from_pretrained(str(tmp_path), num_image_tokens=-1)


def test_call_returns_input_ids_only_like_the_original(tokenizers: dict[str, ChatGLMTokenizer]) -> None:
    tokenizer = tokenizers["0"]
    encoded = tokenizer(["你好"], return_tensors="pt")  # what chat() does; the model builds its own mask
    assert list(encoded) == ["input_ids"]
    batch = tokenizer(["你好", "hello world"], padding=True)
    assert batch["input_ids"][0][0] == tokenizer.pad_token_id  # padded on the left
    assert batch["attention_mask"][0][0] == 0
