"""The one configuration file both processes read: load, interpolate, validate.

Each process validates the whole file (so a typo anywhere is caught at start-up) and then
reads only its own section. Errors name the file, the dotted key path and what was expected.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import SplitResult, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from common.reasoning import Provider, Reasoning, check_reasoning

# ${NAME} or ${NAME:-default}; $${ escapes a literal "${".
_ENV_PATTERN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_PORT = 65535
# A url's password: after "user:" up to the last "@" (a password may hold "/" or "@"), or a `password=`
# query parameter. Masking too much of a url in an error message costs nothing.
_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^@]*@|([?&]password=)[^&#]*")
# The schemes redis-py's from_url accepts (it compares them case-sensitively).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits the file."""


def _url_error(message: str) -> PydanticCustomError:
    # A custom error keeps pydantic's "Value error, " prefix out of the message the file's author reads.
    return PydanticCustomError("url", message)


def _split(url: str) -> SplitResult:
    """The url's parts; a malformed port or address is a config error here rather than a crash in a client."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError as error:
        # Not urlsplit's own words: they can quote a piece of the password.
        problem = "its port is not a number from 0 to 65535" if "port" in str(error).lower() else "bad address"
        raise _url_error(f"not a valid url: {problem}") from None
    return parts


def _check_redis_url(url: str) -> str:
    """redis-py rejects these only when the first client is made, with a traceback; say so at start-up."""
    if not url.startswith(REDIS_SCHEMES):
        raise _url_error("must start with redis://, rediss:// or unix://, like redis://127.0.0.1:6379/0")
    parts = _split(url)
    if parts.scheme == "unix" and not parts.path:
        raise _url_error("unix:// needs the socket's path, like unix:///run/redis/redis.sock")
    return url


def _check_http_url(url: str) -> str:
    """An endpoint the openai client can reach: without a scheme every request fails, far from the cause."""
    parts = _split(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _url_error("must be an http:// or https:// url with a host, like http://127.0.0.1:8000/v1")
    return url


RedisUrl = Annotated[str, AfterValidator(_check_redis_url)]
HttpBaseUrl = Annotated[str, AfterValidator(_check_http_url)]


def port_number(text: str) -> int:
    """argparse `type=` for --port: the range the config file's port keys accept, checked the same way."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_PORT} (0 picks a free port), got {port}")
    return port


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DiscordConfig(_Section):
    token: str | None = Field(None, description="Bot token from the Developer Portal.")
    guild_ids: list[int] = Field(default_factory=list, description="Guilds to sync commands to at once.")
    shard_count: int | None = Field(None, ge=1, description="Total shards across all bot processes.")
    shard_ids: list[int] | None = Field(None, description="Shards this process runs.")
    message_content: bool = Field(True, description="Read plain messages as questions (a privileged intent).")

    @model_validator(mode="after")
    def _shards_need_a_count(self) -> DiscordConfig:
        if self.shard_ids is not None and self.shard_count is None:
            raise ValueError("shard_ids needs shard_count (the total number of shards)")
        if self.shard_ids and self.shard_count and max(self.shard_ids) >= self.shard_count:
            raise ValueError("every shard id must be below shard_count")
        return self


class RedisConfig(_Section):
    url: RedisUrl = "redis://127.0.0.1:6379/0"
    cluster: bool = Field(False, description="url names a node of a Redis Cluster.")
    key_prefix: str = Field("soup", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")

    @model_validator(mode="after")
    def _cluster_needs_tcp(self) -> RedisConfig:
        if self.cluster and self.url.startswith("unix://"):
            raise ValueError("a Redis Cluster is reached over TCP: url must be redis:// or rediss://")
        return self


class ModelConfig(_Section):
    base_url: HttpBaseUrl = "http://127.0.0.1:8000/v1"
    api_key: str | None = None
    name: str = "turtle-host"
    temperature: float = Field(0.2, ge=0, le=2)
    # Reasoning tokens count against this budget at every provider: 1024 leaves a thought room before the
    # verdict (a reply without thinking ends far sooner). See the README's "Reasoning models".
    max_tokens: int = Field(1024, ge=1, le=32768)
    first_token_timeout: float = Field(30.0, gt=0)
    request_timeout: float = Field(120.0, gt=0)
    # How long a model may think before its answer must begin; past it the question counts as unanswered.
    thinking_timeout: float = Field(
        45.0, gt=0, description="Seconds a reasoning model may think before its answer starts."
    )
    max_retries: int = Field(2, ge=0, le=10)
    # Names of bot.game.prompt_variants.VARIANTS; `python -m bench.judge --variant ...` compares them.
    host_prompt: Literal["standard", "few_shot", "plain"] = Field(
        "standard", description="How the host is prompted (see docs/JUDGING.md)."
    )
    provider: Provider = Field(
        "auto", description="The kind of server at base_url, for the reasoning setting (common/reasoning.py)."
    )
    reasoning: Reasoning = Field("default", description="How much the model thinks; default sends nothing.")

    @field_validator("reasoning", mode="before")
    @classmethod
    def _unquoted_off_is_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` (and `no`) as false: `reasoning: off` must mean what it says.
        return "off" if value is False else value

    @field_validator("reasoning")
    @classmethod
    def _reasoning_reaches_the_server(cls, value: str, info: ValidationInfo) -> str:
        data = info.data
        if "provider" not in data or "base_url" not in data:
            return value  # those keys have their own errors
        problem = check_reasoning(value, data["provider"], data["base_url"], data.get("name", ""))
        if problem:
            raise PydanticCustomError("reasoning", problem)
        return value

    # bot.game.structured: verdicts as JSON fields where the endpoint enforces a schema (see README).
    verdict_format: Literal["auto", "json_schema", "json_object", "text"] = Field(
        "auto", description="auto tries json_schema, then json_object, then the text protocol."
    )


class GameLimits(_Section):
    """One difficulty's limits; a key left out keeps the game-wide value, null means no limit."""

    max_questions: int | None = Field(None, ge=1)
    time_limit_minutes: float | None = Field(None, gt=0)
    max_hints: int = Field(3, ge=0)


class RatingsConfig(_Section):
    """Puzzle ratings after a reveal (👍/👎) and how /play weighs them (README: "Ratings")."""

    enabled: bool = Field(True, description="Offer rating buttons after a reveal and pick by rating.")
    window_hours: float = Field(24, gt=0, description="Hours after a reveal that its players may rate it.")
    min_votes: int = Field(
        5, ge=1, description="Votes before a server's own count decides, and before a puzzle can be retired."
    )
    retire_below: float = Field(
        0.3, ge=0, le=1, description="A puzzle with min_votes votes and a smaller share of 👍 is no longer picked."
    )
    favour: float = Field(1.0, ge=0, le=4, description="How strongly /play favours well-rated puzzles (0 = not).")


class GameConfig(_Section):
    default_language: Literal["en", "zh"] = "en"
    puzzle_files: list[str] = Field(default_factory=list)
    include_builtin: bool = True
    recent_puzzles: int = Field(10, ge=0, description="A channel never gets one of its last N puzzles.")
    history_tokens: int = Field(1400, ge=200, description="Prompt budget for prior turns.")
    max_question_length: int = Field(500, ge=10, le=1800)
    transcript_cap: int = Field(32, ge=10)
    expire_after_days: float = Field(7, gt=0)
    chatter_prefix: str = "//"
    question_cooldown: float = Field(2.0, ge=0, description="Seconds a player waits between questions.")
    max_queued_questions: int = Field(10, ge=1, description="Questions waiting per channel beyond the one answered.")
    max_questions_in_flight: int = Field(
        128, ge=1, description="Questions one bot process answers or queues at once; the rest hear 'busy'."
    )
    end_game_by: Literal["starter_or_moderator", "anyone"] = "starter_or_moderator"
    puzzle_admin_role: str | None = Field(
        None, description="A role (name or id) that may manage the server's puzzles besides Manage Server."
    )
    max_custom_puzzles: int = Field(200, ge=0, le=5000, description="Puzzles one server may add with /puzzle.")
    max_hints: int = Field(3, ge=0, description="Hints a table may take per game (0 = no /hint).")
    max_questions: int | None = Field(None, ge=1, description="Questions per game before the answer is revealed.")
    time_limit_minutes: float | None = Field(None, gt=0, description="Minutes per game before the answer is revealed.")
    limits: dict[Literal["easy", "medium", "hard"], GameLimits] = Field(
        default_factory=dict, description="Per-difficulty overrides of max_questions, time_limit_minutes, max_hints."
    )
    appeal_window: float = Field(300.0, ge=0, description="Seconds after a verdict during which it may be appealed.")
    max_appeals: int = Field(3, ge=0, description="Appeals a table may make per game (0 = no appeals).")
    ratings: RatingsConfig = Field(default_factory=RatingsConfig)


class GenerateConfig(_Section):
    """/puzzle generate and `python -m bot.generate` (bot.game.generate): the host model writes new puzzles."""

    max_attempts: int = Field(3, ge=1, le=10, description="Drafts tried per request before giving up.")
    model: str | None = Field(None, description="A model at model.base_url to write puzzles (default model.name).")
    temperature: float = Field(0.9, ge=0, le=2)
    max_tokens: int = Field(1500, ge=256, le=32768)
    request_timeout: float = Field(180.0, gt=0, description="Seconds one draft may take.")


class AppealModelConfig(_Section):
    """The model that judges appeals, where it differs from `model`: each key left out keeps `model`'s value."""

    base_url: HttpBaseUrl | None = None
    api_key: str | None = None
    name: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    request_timeout: float | None = Field(None, gt=0)
    thinking_timeout: float | None = Field(None, gt=0)
    provider: Provider | None = None
    reasoning: Reasoning | None = None

    @field_validator("reasoning", mode="before")
    @classmethod
    def _unquoted_off_is_off(cls, value: object) -> object:
        return "off" if value is False else value


class AppealConfig(_Section):
    """How a contested verdict is judged again (bot/game/appeal.py)."""

    samples: int = Field(3, ge=1, le=9, description="Independent judgements; the new verdict needs a majority.")
    model: AppealModelConfig = Field(
        default_factory=AppealModelConfig, description="A stronger model for appeals; keys left out are `model`'s."
    )

    def model_for(self, host: ModelConfig) -> ModelConfig:
        """The appeal model's settings: `appeal.model`'s keys over the host's `model` (ValueError naming the key
        when together they make no valid model section, e.g. a reasoning setting its server cannot take)."""
        overrides = self.model.model_dump(exclude_none=True)
        if not overrides:
            return host
        try:
            return ModelConfig.model_validate({**host.model_dump(), **overrides})
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"appeal.model.{key}: {_explain(first)}") from None


class StreamConfig(_Section):
    edit_interval: float = Field(1.0, ge=0.2, le=30)
    first_post_wait: float = Field(
        0.4,
        ge=0,
        le=2,  # an /ask must be answered within Discord's 3 s (bot.surfaces.ACKNOWLEDGE_WITHIN is 2 s)
        description="Seconds a reply is held before anything is posted: one complete by then is posted once,"
        " final; a longer one is posted when this ends (or when its first text comes after it). 0 = at once.",
    )


class OpenAIBackendConfig(_Section):
    base_url: HttpBaseUrl = "https://api.openai.com/v1"
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    connect_timeout: float = Field(5.0, gt=0)
    max_retries: int = Field(0, ge=0, le=10)
    max_in_flight: int = Field(500, ge=1, description="Requests relayed at once; more get 429 queue_full.")


class ChatGLMBackendConfig(_Section):
    model_path: str = "THUDM/chatglm-6b-int4"
    quantize: Literal[4, 8] | None = 4
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # fast: quantized linears on integer kernels with bf16/int8 activations, embeddings in bf16 on CPU.
    # exact: quantized weights dequantized to fp32 (q * weight_scale) and everything computed in fp32, as
    # the original's CPU path does, so greedy replies equal the original's; several times slower, for
    # checking a checkpoint or a port (ChatGLM-6B only).
    compute: Literal["fast", "exact"] = "fast"
    # ChatGLM-6B runs on the project's own code, never the checkpoint's; this only lets a model of
    # another type that ships its own modelling code run it.
    trust_remote_code: bool = False
    max_new_tokens: int = Field(512, ge=1)
    max_context_tokens: int = Field(2048, ge=64)


class ModelServiceConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=MAX_PORT)
    api_key: str | None = None
    backend: Literal["openai", "chatglm"] = "openai"
    served_model_name: str = "turtle-host"
    first_token_timeout: float = Field(30.0, gt=0)
    request_timeout: float = Field(300.0, gt=0)
    max_queue: int = Field(8, ge=1)
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=1_073_741_824, description="Largest request body read; a larger one gets 413."
    )
    openai: OpenAIBackendConfig = Field(default_factory=OpenAIBackendConfig)
    chatglm: ChatGLMBackendConfig = Field(default_factory=ChatGLMBackendConfig)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class WebConfig(_Section):
    """`python -m bot.web`: the browser page over the same engine as the bot."""

    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 exposes the page.")
    port: int = Field(7860, ge=0, le=MAX_PORT)
    auth: Literal["none", "secret"] = Field("none", description="secret: players log in with web.secret.")
    secret: str | None = Field(None, description="The shared password when auth is secret.")
    actions_per_minute: int = Field(20, ge=1, description="Questions and button presses per browser session.")
    actions_per_minute_per_address: int = Field(
        60, ge=1, description="Questions and button presses per client address, across its sessions."
    )
    new_games_per_hour_per_address: int = Field(30, ge=1, description="Games one client address may start an hour.")
    trusted_proxy_header: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Behind a reverse proxy: the header it sets to the client's address (X-Forwarded-For, X-Real-IP).",
    )
    concurrent_replies: int = Field(32, ge=1, description="Host replies streamed at once across all sessions.")
    max_request_bytes: int = Field(
        65_536, ge=1024, le=16_777_216, description="Largest request body the page reads; a larger one gets 413."
    )


class Config(_Section):
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    game: GameConfig = Field(default_factory=GameConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    appeal: AppealConfig = Field(default_factory=AppealConfig)
    model_service: ModelServiceConfig = Field(default_factory=ModelServiceConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    source: str = Field("<defaults>", exclude=True, description="Where this config came from.")
    unset_env: dict[str, str] = Field(default_factory=dict, exclude=True)

    def require(self, *paths: str) -> None:
        """Fail with a helpful message unless every dotted key path has a value."""
        for path in paths:
            value: Any = self
            for part in path.split("."):
                value = getattr(value, part)
            if value in (None, ""):
                hint = ""
                if path in self.unset_env:
                    hint = f"; it is read from the environment variable {self.unset_env[path]}, which is not set"
                raise ConfigError(f"{self.source}: {path}: a value is required{hint}")


def interpolate(value: Any, environ: Mapping[str, str], path: str = "", unset: dict[str, str] | None = None) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string of a parsed YAML tree.

    A string that is exactly one unset ${VAR} becomes None, so "required" checks can say
    which variable to set; an unset variable inside a longer string is an error.
    """
    unset = {} if unset is None else unset
    if isinstance(value, dict):
        return {key: interpolate(item, environ, _join(path, key), unset) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ, f"{path}[{index}]", unset) for index, item in enumerate(value)]
    if not isinstance(value, str):
        return value
    whole = _ENV_PATTERN.fullmatch(value)
    if whole and whole.group(1) and whole.group(2) is None and whole.group(1) not in environ:
        unset[path] = whole.group(1)
        return None

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set (write ${{{name}:-default}} for a fallback)")

    return _ENV_PATTERN.sub(substitute, value)


def load_config(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file; None gives the defaults."""
    environ = os.environ if environ is None else environ
    if path is None:
        return Config()
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found (copy config.example.yaml to start one)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{source}: cannot read: {error}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" line {where.line + 1}, column {where.column + 1}:" if where else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{source}:{line} invalid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, not {_kind(raw)}")
    unset: dict[str, str] = {}
    try:
        data = interpolate(raw, environ, unset=unset)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    return validate(data, source, unset)


def validate(data: dict[str, Any], source: str, unset: dict[str, str] | None = None) -> Config:
    """Validate an already-parsed mapping, wording every problem for the file's author."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, not {_kind(data)}")
    for reserved in ("source", "unset_env"):
        if reserved in data:
            raise ConfigError(f"{source}: {reserved}: unknown key (expected one of: {', '.join(_SECTIONS)})")
    # A section whose keys are all commented out parses as null: it means "all defaults".
    data = {key: {} if value is None and key in _SECTIONS else value for key, value in data.items()}
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_errors(source, error.errors())) from None
    try:
        config.appeal.model_for(config.model)  # the appeal model is checked at start-up too
    except ValueError as problem:
        raise ConfigError(f"{source}: invalid configuration\n  {problem}") from None
    config.source = source
    config.unset_env = dict(unset or {})
    return config


def format_errors(source: str, errors: Iterable[Any]) -> str:
    lines = [f"{source}: invalid configuration"]
    for error in errors:
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {key}: {_explain(error)}")
    return "\n".join(lines)


def _explain(error: Any) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return f"unknown key (expected one of: {', '.join(allowed)})"
    if kind in ("model_type", "dict_type"):
        return f"expected a mapping of keys, got {_kind(given)}"
    return f"{error['msg'].lower()} (got {_without_password(given)!r})"


def _without_password(given: Any) -> Any:
    """A url's password is not echoed to the terminal or the logs ("redis://:hunter2@host" -> ":***@"),
    also inside a section shown whole (a check across its keys)."""
    if isinstance(given, str):
        return _URL_PASSWORD.sub(_masked, given)
    if isinstance(given, dict):
        return {key: _without_password(value) for key, value in given.items()}
    return given


def _masked(match: re.Match[str]) -> str:
    return f"{match.group(1)}***@" if match.group(1) else f"{match.group(2)}***"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Config
    parts = iter(loc)
    for part in parts:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if get_origin(annotation) is dict:
            # A mapping of sections (game.limits.easy): the next part is its key, the value a section.
            next(parts, None)
            annotation = get_args(annotation)[1]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [name for name, field in model.model_fields.items() if not field.exclude]


def _kind(value: Any) -> str:
    return {str: "a string", list: "a list", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


_SECTIONS = _allowed_keys(())
