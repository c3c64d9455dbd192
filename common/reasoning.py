"""One reasoning setting (`model.reasoning`) in the form each kind of server understands.

Servers do not agree on how to ask a model to think less or not at all, and a URL does not say
reliably which kind of server answers it (vLLM, SGLang, llama.cpp and Ollama all serve
`/v1/chat/completions` on any host and port), so the operator names it: `model.provider`. With
`auto` the provider is known only for the public APIs' own hosts (and Ollama's port); any other
`reasoning` than `default` then needs `model.provider`. `default` sends nothing: today's request.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

Provider = Literal["auto", "openai", "vllm", "sglang", "llamacpp", "ollama", "glm", "deepseek", "openrouter"]
Reasoning = Literal["default", "off", "low", "medium", "high"]
PROVIDERS: tuple[str, ...] = Provider.__args__  # type: ignore[attr-defined]
LEVELS = ("low", "medium", "high")

# Hosts that say which API they are; everything self-hosted needs `model.provider`.
KNOWN_HOSTS = {
    "api.openai.com": "openai",
    "api.deepseek.com": "deepseek",
    "open.bigmodel.cn": "glm",
    "api.z.ai": "glm",
    "openrouter.ai": "openrouter",
}
OLLAMA_PORT = 11434
# DeepSeek's API has no switch: the model name chooses (deepseek-reasoner thinks, deepseek-chat does not).
DEEPSEEK_THINKING_MODEL = "deepseek-reasoner"
DEEPSEEK_PLAIN_MODEL = "deepseek-chat"


def resolve_provider(provider: str, base_url: str) -> str | None:
    """The provider named, or for `auto` the one a well-known host or Ollama's port gives; else None."""
    if provider != "auto":
        return provider
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host in KNOWN_HOSTS:
        return KNOWN_HOSTS[host]
    if parts.port == OLLAMA_PORT:
        return "ollama"
    return None


def reasoning_fields(provider: str | None, reasoning: str) -> dict[str, Any]:
    """The request fields that ask `provider` for `reasoning`; empty for `default` (and DeepSeek)."""
    if reasoning == "default" or provider is None:
        return {}
    off = reasoning == "off"
    if provider == "openai":
        # GPT-5.1 and later take "none"; a model that does not (o-series, GPT-5) answers 400
        # unsupported_value listing what it takes, and the provider rules send the lowest of those.
        return {"reasoning_effort": "none" if off else reasoning}
    if provider in ("vllm", "sglang"):
        # Qwen3-style chat templates read enable_thinking; gpt-oss reads reasoning_effort.
        if off:
            return {"chat_template_kwargs": {"enable_thinking": False}}
        return {"chat_template_kwargs": {"enable_thinking": True}, "reasoning_effort": reasoning}
    if provider == "llamacpp":
        # llama-server (--jinja) hands chat_template_kwargs to the model's template; it has no effort levels.
        return {"chat_template_kwargs": {"enable_thinking": not off}}
    if provider == "ollama":
        # Ollama's /v1 endpoint reads reasoning_effort ("none" turns thinking off); `think` is its
        # native API's switch, sent too for proxies that speak it.
        return {"think": not off, "reasoning_effort": "none" if off else reasoning}
    if provider == "glm":
        return {"thinking": {"type": "disabled" if off else "enabled"}}
    if provider == "openrouter":
        return {"reasoning": {"effort": "none" if off else reasoning}}
    return {}  # deepseek: chosen by the model name (check_reasoning)


def check_reasoning(reasoning: str, provider: str, base_url: str, model: str) -> str | None:
    """Why this combination cannot work, or None. Worded for the person editing the config file."""
    if reasoning == "default":
        return None
    resolved = resolve_provider(provider, base_url)
    if resolved is None:
        return (
            f"{reasoning} needs model.provider (one of: {', '.join(PROVIDERS[1:])}), "
            "since the kind of server cannot be told from base_url"
        )
    if resolved == "deepseek":
        wanted = DEEPSEEK_PLAIN_MODEL if reasoning == "off" else DEEPSEEK_THINKING_MODEL
        thinks = DEEPSEEK_THINKING_MODEL in model
        if thinks != (reasoning != "off"):
            return (
                f"with provider deepseek the model name chooses thinking: for {reasoning} set model.name "
                f"to {wanted} (the effort cannot be set; low, medium and high all mean {DEEPSEEK_THINKING_MODEL})"
            )
    return None
