"""A tiny sentencepiece `ice_text.model` laid out like ChatGLM-6B's, built byte for byte in the test.

The published model has 130,344 pieces: <unk> <s> </s> <pad> <n> at 0-4, ordinary pieces (5 is the
bare "▁"), then the GLM control tokens [MASK] [gMASK] [sMASK] <unused_0> <sop> <eop> <ENC> <dBLOCK>,
<|tab|>, <|blank_2|> ... <|blank_80|>, and the 256 byte-fallback pieces <0x00> ... <0xFF> last.
This one keeps that order with a few hundred ordinary pieces (the characters and words of a small
zh+en corpus) so that tests run in milliseconds.

The ModelProto is written directly (protobuf wire format, no protobuf package needed) rather than
trained, so the file is identical on every run and every machine. The control tokens are CONTROL
pieces (they decode to nothing, as ChatGLM-6B's do), <n>, <|tab|> and the blanks are USER_DEFINED
(matched in text, decoded as written), and unknown characters fall back to bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6
MAX_BLANK = 80

HEAD_PIECES = [("<unk>", UNKNOWN), ("<s>", CONTROL), ("</s>", CONTROL), ("<pad>", CONTROL), ("<n>", USER_DEFINED)]
GLM_CONTROL = ["[MASK]", "[gMASK]", "[sMASK]", "<unused_0>", "<sop>", "<eop>", "<ENC>", "<dBLOCK>"]

# Text the ordinary pieces come from. Characters outside it (emoji, rare hanzi) take the byte fallback.
CORPUS = """
汤面：一个男人走进餐厅，点了一碗海龟汤。他喝了一口，然后回家自杀了。为什么？
汤底：他曾经在海上遇难，同伴骗他吃的是海龟汤，其实是人肉。
他是自杀吗？是。和船有关吗？是的。不是。不重要。你好！我是人工智能助手，很高兴见到你，欢迎问我任何问题。
晚上睡不着应该怎么办？答问这个那些我们你们他们的了在有和与或但是如果因为所以
The man walked into a restaurant and ordered turtle soup. Is he dead? Yes, no, irrelevant.
Hello world! What's the answer? I don't know; it isn't clear: maybe. You're right, we've seen it.
def main(): print('hello world') # greeting ChatGLM-6B model token test
"""
ASCII = [chr(code) for code in range(0x21, 0x7F)]
FULLWIDTH = list("，。！？：；、“”‘’（）《》…—")


def ordinary_pieces() -> list[tuple[str, float]]:
    """Pieces with unigram scores: longer pieces score higher, so words beat their letters."""
    chars = sorted({c for c in CORPUS if not c.isspace()} | set(ASCII) | set(FULLWIDTH))
    words = sorted({word.strip(".,!?;:'()") for word in CORPUS.split() if word.isascii()} - {""})
    hanzi_pairs = sorted({CORPUS[i : i + 2] for i in range(len(CORPUS) - 1) if _is_hanzi_pair(CORPUS[i : i + 2])})
    pieces: list[tuple[str, float]] = [("▁", -2.0)]
    pieces += [(char, -6.0) for char in chars]
    pieces += [(f"▁{char}", -6.5) for char in chars if char.isascii() and char.isalnum()]
    pieces += [(word, -4.0 - 0.01 * index) for index, word in enumerate(words) if len(word) > 1]
    pieces += [(f"▁{word}", -4.5 - 0.01 * index) for index, word in enumerate(words) if len(word) > 1]
    pieces += [(pair, -5.0 - 0.001 * index) for index, pair in enumerate(hanzi_pairs)]
    seen: set[str] = set()
    unique = []
    for piece, score in pieces:
        if piece not in seen:
            seen.add(piece)
            unique.append((piece, score))
    return unique


def _is_hanzi_pair(text: str) -> bool:
    return len(text) == 2 and all("\u4e00" <= c <= "\u9fff" for c in text)


def all_pieces() -> list[tuple[str, float, int]]:
    """Every piece in id order: (piece, score, type)."""
    pieces = [(piece, 0.0, kind) for piece, kind in HEAD_PIECES]
    pieces += [(piece, score, NORMAL) for piece, score in ordinary_pieces()]
    pieces += [(piece, 0.0, CONTROL) for piece in GLM_CONTROL]
    pieces.append(("<|tab|>", 0.0, USER_DEFINED))
    pieces += [(f"<|blank_{length}|>", 0.0, USER_DEFINED) for length in range(2, MAX_BLANK + 1)]
    pieces += [(f"<0x{byte:02X}>", 0.0, BYTE) for byte in range(256)]
    return pieces


def model_bytes() -> bytes:
    """The serialized sentencepiece ModelProto of the tiny model."""
    return serialize_model(all_pieces())


def serialize_model(pieces: list[tuple[str, float, int]]) -> bytes:
    """A sentencepiece ModelProto (unigram, byte fallback, identity normalizer) holding `pieces`
    (text, score, piece type), in protobuf's wire format; the full-size benchmark writes its
    130,344-piece model with it too."""
    out = bytearray()
    for piece, score, kind in pieces:
        body = _string(1, piece) + _tag(2, 5) + struct.pack("<f", score) + _varint_field(3, kind)
        out += _bytes_field(1, body)
    trainer = (
        _varint_field(3, 1)  # model_type UNIGRAM
        + _varint_field(4, len(pieces))  # vocab_size
        + _varint_field(35, 1)  # byte_fallback
        + _varint_field(40, 0)  # unk_id
        + _varint_field(41, 1)  # bos_id
        + _varint_field(42, 2)  # eos_id
        + _varint_field(43, 3)  # pad_id
    )
    out += _bytes_field(2, trainer)
    normalizer = (
        _string(1, "identity")
        + _varint_field(3, 1)  # add_dummy_prefix
        + _varint_field(4, 0)  # remove_extra_whitespaces: off, so single spaces survive a round trip
        + _varint_field(5, 1)  # escape_whitespaces
    )
    out += _bytes_field(3, normalizer)
    return bytes(out)


def tokenizer_config(num_image_tokens: int) -> dict[str, object]:
    """ChatGLM-6B's published tokenizer_config.json with the given num_image_tokens."""
    return {
        "name_or_path": "THUDM/chatglm-6b",
        "bos_token": "<sop>",
        "eos_token": "<eop>",
        "end_token": "</s>",
        "gmask_token": "[gMASK]",
        "mask_token": "[MASK]",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "remove_space": False,
        "do_lower_case": False,
        "tokenizer_class": "ChatGLMTokenizer",
        "num_image_tokens": num_image_tokens,
        "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]},
    }


def special_token_ids(num_image_tokens: int) -> dict[str, int]:
    """The ids config.json carries for this tiny model (sentencepiece id + num_image_tokens), and its vocab size."""
    return special_ids_of(all_pieces(), num_image_tokens)


def special_ids_of(pieces: Sequence[tuple[str, float, int]], num_image_tokens: int = 0) -> dict[str, int]:
    """config.json's special-token ids for a piece list (sentencepiece id + num_image_tokens), and its vocab size."""
    index = {piece: number for number, (piece, _, _) in enumerate(pieces)}
    return {
        "bos_token_id": index["<sop>"] + num_image_tokens,
        "eos_token_id": index["<eop>"] + num_image_tokens,
        "mask_token_id": index["[MASK]"] + num_image_tokens,
        "gmask_token_id": index["[gMASK]"] + num_image_tokens,
        "pad_token_id": index["<pad>"] + num_image_tokens,
        "tokenizer_vocab_size": len(index) + num_image_tokens,
    }


def write_tokenizer_files(folder: Path, num_image_tokens: int = 0) -> Path:
    """ice_text.model and tokenizer_config.json in `folder`, as the published checkpoint has them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ice_text.model").write_bytes(model_bytes())
    config = json.dumps(tokenizer_config(num_image_tokens), indent=2, ensure_ascii=False)
    (folder / "tokenizer_config.json").write_text(config + "\n", encoding="utf-8")
    return folder


# -- protobuf wire format --------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _varint_field(field: int, value: int) -> bytes:
    return _tag(field, 0) + _varint(value)


def _bytes_field(field: int, value: bytes) -> bytes:
    return _tag(field, 2) + _varint(len(value)) + value


def _string(field: int, value: str) -> bytes:
    return _bytes_field(field, value.encode("utf-8"))
