"""Running the app under uvicorn: in the foreground (the CLI) or on a background thread (tests, benches)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from types import TracebackType

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 30.0
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",]+")
# A secret this long does not turn up in ordinary text by chance, so it is hidden wherever it appears,
# even glued to other text (after an escape like \n or %20); a shorter one (`api_key: ollama`, `x`) is
# hidden only as a whole word, or "does not exist" would log as "does not e[redacted]ist".
WHOLE_WORD_SECRET_BELOW = 12
# Characters a key is made of: a short secret next to one of them is part of a longer word or name.
_KEY_CHARACTER = r"[\w-]"
# ...unless the character before it ends an escape ("%22ollama", "\\nollama" in a logged body or bytes repr).
_AFTER_ESCAPE = r"(?<=%[0-9A-Fa-f]{2})|(?<=\\[a-z])|(?<=\\x[0-9A-Fa-f]{2})|(?<=\\u[0-9A-Fa-f]{4})"


class RedactingFilter(logging.Filter):
    """Blank out bearer tokens and known secrets in every log line, whatever logged it."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secret_pattern = _secrets_pattern([secret for secret in secrets if secret])

    def filter(self, record: logging.LogRecord) -> bool:
        # A filter that raises propagates into the logging call itself, so a library's malformed
        # message (`log.warning("failed:", error)`) would crash whatever logged it: never raise.
        try:
            message, formatted = record.getMessage(), True
        except Exception:
            message, formatted = _unformattable(record), False
        clean = self.redact(message)
        if clean != message or not formatted:
            record.msg, record.args = clean, None
        return True

    def redact(self, text: str) -> str:
        clean = _BEARER.sub(r"\1[redacted]", text)
        return self.secret_pattern.sub("[redacted]", clean) if self.secret_pattern else clean


def _secrets_pattern(secrets: list[str]) -> re.Pattern[str] | None:
    """One pattern for all secrets, longest first so a secret containing another is hidden whole."""
    alternatives = []
    for secret in sorted(set(secrets), key=len, reverse=True):
        escaped = re.escape(secret)
        if len(secret) < WHOLE_WORD_SECRET_BELOW:
            escaped = rf"(?:(?<!{_KEY_CHARACTER})|{_AFTER_ESCAPE}){escaped}(?!{_KEY_CHARACTER})"
        alternatives.append(escaped)
    return re.compile("|".join(alternatives)) if alternatives else None


def _unformattable(record: logging.LogRecord) -> str:
    """The message and its arguments side by side, for a record whose %-formatting fails."""
    try:
        return f"{record.msg} [unformattable log arguments: {record.args!r}]"
    except Exception:  # str() or repr() of a broken object can fail too
        return f"[unprintable log message from {record.name} at {record.pathname}:{record.lineno}]"


def uvicorn_config(app: FastAPI, host: str, port: int, **overrides: object) -> uvicorn.Config:
    """uvicorn settings we rely on: our logging setup (no header dumps), lifespan on, no signals on threads."""
    settings: dict[str, object] = {
        "host": host,
        "port": port,
        "log_config": None,  # keep the root logger's handlers and their redacting filter
        "lifespan": "on",
        "access_log": True,  # uvicorn's access line is method, path and status: no headers
        "timeout_graceful_shutdown": 5,
        "backlog": 2048,
    }
    settings.update(overrides)
    return uvicorn.Config(app, **settings)  # type: ignore[arg-type]


class ServerThread:
    """Serve an app on 127.0.0.1 from a daemon thread: `with ServerThread(app) as server: server.url`."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, **overrides: object) -> None:
        overrides.setdefault("access_log", False)
        self.server = uvicorn.Server(uvicorn_config(app, host, port, **overrides))
        self.thread = threading.Thread(target=self.server.run, name="model-service", daemon=True)
        self.host = host

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        return int(servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the model service did not start (see the log above)")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(START_TIMEOUT_SECONDS)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
