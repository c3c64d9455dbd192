"""ChatGLM-6B's chat() prompt and reply post-processing, against goldens from the original code.

The goldens ran the original `chat()` and `stream_chat()` with a stand-in `generate` returning chosen
reply tokens (scripts/chatglm_tokenizer_golden.py), so prompt ids and reply texts are the original's.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from model_service.backends.chatglm6b.chat import (
    ResponseText,
    build_prompt,
    decode_response,
    process_response,
    settled_length,
    split_turns,
)
from model_service.backends.chatglm6b.tokenization import ChatGLMTokenizer
from model_service.backends.generation import IncrementalText, QueueStreamer, text_decoder
from model_service.backends.prompt import PromptBuilder
from model_service.errors import InvalidRequest
from tests.model_service.glm_spm import write_tokenizer_files

GOLDEN = json.loads((Path(__file__).parent / "golden" / "tokenizer.json").read_text(encoding="utf-8"))
COUNTS = sorted(GOLDEN["by_num_image_tokens"], key=int)
SYSTEM = {"role": "system", "content": "汤面：男人死了。\n\n汤底：他是灯塔看守者。"}


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ChatGLMTokenizer]:
    built = {}
    for count in COUNTS:
        folder = write_tokenizer_files(tmp_path_factory.mktemp(f"chat-{count}"), int(count))
        built[count] = ChatGLMTokenizer.from_pretrained(str(folder))
    return built


def stream(tokenizer: ChatGLMTokenizer, ids: list[int]) -> list[str]:
    """The pieces ResponseText hands out when fed one more token at a time."""
    decoder = ResponseText(tokenizer)
    pieces = [decoder.feed(ids[:end]) for end in range(1, len(ids) + 1)]
    return [*pieces, decoder.finish(ids)]


@pytest.mark.parametrize("count", COUNTS)
def test_chat_prompt_ids_match_the_original(tokenizers: dict[str, ChatGLMTokenizer], count: str) -> None:
    tokenizer = tokenizers[count]
    for case in GOLDEN["by_num_image_tokens"][count]["chats"]:
        history = [tuple(turn) for turn in case["history"]]
        prompt = build_prompt(case["query"], history)
        assert prompt == case["prompt_text"]
        assert tokenizer([prompt])["input_ids"][0] == case["prompt_ids"], case["query"]
        assert case["stream_prompt_ids"] == case["prompt_ids"]


@pytest.mark.parametrize("count", COUNTS)
def test_replies_match_the_original_chat(tokenizers: dict[str, ChatGLMTokenizer], count: str) -> None:
    tokenizer = tokenizers[count]
    for case in GOLDEN["by_num_image_tokens"][count]["chats"]:
        generated = [*case["reply_ids"], tokenizer.eos_token_id]  # generate() returns the <eop> too
        assert decode_response(tokenizer, generated) == case["response"]
        final_stream = case["streamed"][-1] if case["streamed"] else ""
        assert decode_response(tokenizer, case["reply_ids"]) == final_stream


@pytest.mark.parametrize("count", COUNTS)
def test_streamed_text_is_always_a_prefix_of_the_reply(tokenizers: dict[str, ChatGLMTokenizer], count: str) -> None:
    tokenizer = tokenizers[count]
    for case in GOLDEN["by_num_image_tokens"][count]["chats"]:
        generated = [*case["reply_ids"], tokenizer.eos_token_id]
        pieces = stream(tokenizer, generated)
        assert "".join(pieces) == case["response"]
        # The original streams the same reply, though some of its steps are not prefixes (" ?" -> "？").
        assert case["streamed"][-1:] in ([case["response"]], [])


def test_process_response_matches_the_original() -> None:
    for case in GOLDEN["process_response"]:
        assert process_response(case["text"]) == case["processed"], case


@pytest.mark.parametrize(
    ("text", "settled"),
    [
        ("中，", "中，"),  # already full-width: nothing held
        ("a,", "a"),  # may become "，" if a Chinese character follows
        ("a n", "a"),  # may become "an't"
        ("答[[训练", "答"),
        ("x<|blank_1", "x"),
        ("好\ufffd\ufffd", "好"),
        ("done.", "done."),
    ],
)
def test_settled_length_holds_back_only_what_may_change(text: str, settled: str) -> None:
    assert text[: settled_length(text)] == settled


@pytest.mark.parametrize("count", COUNTS)
def test_random_replies_stream_exactly_the_final_text(tokenizers: dict[str, ChatGLMTokenizer], count: str) -> None:
    tokenizer = tokenizers[count]
    rng = random.Random(9)
    low = int(count)
    vocab = range(max(0, low - 3), tokenizer.vocab_size)  # a few image tokens too, where there are any
    words = tokenizer.encode("他 是 , 不 ? n't 's [[训练时间]] 中 : ; ! 好 <n>", add_special_tokens=False)
    for _ in range(150):
        ids = [rng.choice(words) if rng.random() < 0.6 else rng.choice(vocab) for _ in range(rng.randint(1, 25))]
        pieces = stream(tokenizer, ids)
        assert "".join(pieces) == decode_response(tokenizer, ids), ids


def test_split_turns_and_the_system_message_in_round_0() -> None:
    query, history = split_turns(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
            {"role": "user", "content": "d"},
        ]
    )
    assert (query, history) == ("c\nd", [("a", "b")])
    assert build_prompt("q") == "q"
    assert build_prompt("q", [("a", "b")]) == "[Round 0]\n问：a\n答：b\n[Round 1]\n问：q\n答："


class NoStreamChat:
    """Our own ChatGLM-6B model has no stream_chat: the tokenizer alone picks the format."""


def test_prompt_builder_uses_chatglm_rounds_and_gmask_sop(tokenizers: dict[str, ChatGLMTokenizer]) -> None:
    tokenizer = tokenizers["0"]
    builder = PromptBuilder(tokenizer, NoStreamChat())
    assert builder.style == "chatglm"
    messages = [
        SYSTEM,
        {"role": "user", "content": "他是自杀吗？"},
        {"role": "assistant", "content": "不是。"},
        {"role": "user", "content": "和灯有关吗？"},
    ]
    ids = builder.encode(messages)
    expected = build_prompt("和灯有关吗？", [(f"{SYSTEM['content']}\n\n他是自杀吗？", "不是。")])
    assert ids == tokenizer(expected)["input_ids"]
    assert ids[-2:] == [tokenizer.gmask_token_id, tokenizer.bos_token_id]
    assert (
        builder.encode([SYSTEM, {"role": "user", "content": "他是自杀吗？"}])
        == tokenizer(f"{SYSTEM['content']}\n\n他是自杀吗？")["input_ids"]
    )


def test_prompt_builder_trims_old_rounds_and_keeps_the_system_text(tokenizers: dict[str, ChatGLMTokenizer]) -> None:
    tokenizer = tokenizers["0"]
    builder = PromptBuilder(tokenizer, NoStreamChat())
    turns = []
    for index in range(8):
        turns += [{"role": "user", "content": f"问题{index} 是吗？"}, {"role": "assistant", "content": "不是。"}]
    messages = [SYSTEM, *turns, {"role": "user", "content": "最后一个问题？"}]
    full = builder.encode(messages)
    budget = len(full) - 10
    ids = builder.fit(messages, budget)
    assert len(ids) <= budget < len(full)
    text = tokenizer.decode(ids)
    assert text.startswith(f"[Round 0]\n问：{SYSTEM['content']}\n\n问题")  # system text stays in round 0
    assert "问题0" not in text and text.endswith("最后一个问题？\n答：")
    with pytest.raises(InvalidRequest, match="context"):
        builder.fit(messages, 5)


def test_queue_streamer_sends_chat_text(tokenizers: dict[str, ChatGLMTokenizer]) -> None:
    tokenizer = tokenizers["0"]
    assert isinstance(text_decoder(tokenizer), ResponseText)
    assert isinstance(text_decoder(object()), IncrementalText)
    reply = tokenizer.encode("他是自杀吗 ? 不是 , 是的 !", add_special_tokens=False)
    sent: list[tuple[str, int]] = []
    streamer = QueueStreamer(tokenizer, lambda kind, payload: sent.append(payload), interval=0.0)
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt, which generate() passes first
    for token in [*reply, tokenizer.eos_token_id]:
        streamer.put(torch.tensor([token]))
    streamer.end()
    # 4.33's clean-up takes the space before "?", chat() makes the marks full-width: the original's reply.
    assert "".join(text for text, _ in sent) == "他是自杀吗？ 不是， 是的！"
    assert sum(tokens for _, tokens in sent) == len(reply) + 1
