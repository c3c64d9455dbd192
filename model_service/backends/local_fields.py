"""Which request fields the local model honours; every other one is refused with a 400 naming it.

A field sent with OpenAI's default value (`presence_penalty: 0`, `logprobs: false`, `tools: []`,
`response_format: {"type": "text"}`) asks for nothing the model does not do anyway, so it passes;
`null` means the default too. Anything else the local model cannot do is refused rather than
silently dropped, so a client always knows what it got.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model_service.errors import InvalidRequest

# Read by the chatglm backend (see chatglm.py and generation.py); `user` is an end-user id for the
# operator's records and asks the model for nothing.
HONOURED = frozenset(
    {"messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "n", "seed", "user"}
)
NEUTRAL: dict[str, tuple[Any, ...]] = {
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "logprobs": (False,),
    "logit_bias": ({},),
    "tools": ([],),
    "parallel_tool_calls": (True, False),  # says how to call tools, and there are none
    "response_format": ({"type": "text"},),
}
MESSAGE_FIELDS = frozenset({"role", "content"})
WHY: dict[str, str] = {
    "response_format": (
        "the local model cannot constrain its output to JSON (no constrained decoding); leave it out, "
        "or use the openai backend in front of a server that enforces it (llama.cpp, vLLM, OpenAI)"
    ),
    "logprobs": "the local model does not report log probabilities",
    "top_logprobs": "the local model does not report log probabilities",
    "tools": "the local model cannot call tools",
    "tool_choice": "the local model cannot call tools",
    "reasoning_effort": "the local model does not think before answering",
}


def check_local_fields(fields: Mapping[str, Any]) -> None:
    """Raise a 400 naming the first field the local model would otherwise have to ignore."""
    for name, value in fields.items():
        if value is None or name in HONOURED or value in NEUTRAL.get(name, ()):
            continue
        reason = WHY.get(name, "the local model does not support it")
        raise InvalidRequest(
            f"`{name}` is not supported by the chatglm backend: {reason}.", param=name, code="unsupported_parameter"
        )
    for index, message in enumerate(fields.get("messages") or ()):
        for name, value in message.items():
            if value is not None and name not in MESSAGE_FIELDS:
                where = f"messages.{index}.{name}"
                raise InvalidRequest(
                    f"`{where}` is not supported by the chatglm backend: its prompt holds only each "
                    "message's role and text.",
                    param=where,
                    code="unsupported_parameter",
                )
