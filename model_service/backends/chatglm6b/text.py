"""The text side of ChatGLM-6B's tokenizer: its whitespace tokens and transformers 4.33's decode clean-up.

Plain string functions (no transformers, no sentencepiece), shared by the tokenizer and by the
chat post-processing that has to know which text may still change while a reply streams.
"""

from __future__ import annotations

NEWLINE_TOKEN = "<n>"
TAB_TOKEN = "<|tab|>"
MAX_BLANK_LENGTH = 80
CHAT_FORMAT = "chatglm-6b"  # the tokenizer's `chat_format`, which the prompt builder looks for

# transformers 4.33's PreTrainedTokenizerBase.clean_up_tokenization, in its order.
CLEAN_UP_REPLACEMENTS = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


def blank_token(length: int) -> str:
    return f"<|blank_{length}|>"


def encode_whitespace(text: str, max_blank: int = MAX_BLANK_LENGTH) -> str:
    """Newlines, tabs and space runs as ChatGLM-6B's own tokens (longest runs first)."""
    text = text.replace("\n", NEWLINE_TOKEN).replace("\t", TAB_TOKEN)
    for length in range(max_blank, 1, -1):
        text = text.replace(" " * length, blank_token(length))
    return text


def decode_whitespace(text: str, max_blank: int = MAX_BLANK_LENGTH) -> str:
    """The inverse of `encode_whitespace`, in the original's order (shortest blank first)."""
    text = text.replace(NEWLINE_TOKEN, "\n").replace(TAB_TOKEN, "\t")
    for length in range(2, max_blank + 1):
        text = text.replace(blank_token(length), " " * length)
    return text


def clean_up_spaces(text: str) -> str:
    """transformers 4.33's default decode clean-up (on by default then, off by default since)."""
    for old, new in CLEAN_UP_REPLACEMENTS:
        text = text.replace(old, new)
    return text
