"""Everything the server sends a page, read off the browser's network layer (Chrome DevTools
Protocol), streamed responses included: what a player could read in the developer tools."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from playwright.sync_api import BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


class NetworkCapture:
    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.session = context.new_cdp_session(page)
        self.bodies: dict[str, list[bytes]] = {}
        self.streamed: set[str] = set()
        self.pending: set[str] = set()
        self.session.on("Network.responseReceived", self._response)
        self.session.on("Network.dataReceived", self._data)
        self.session.on("Network.loadingFinished", self._finished)
        self.session.on("Network.webSocketFrameReceived", self._frame)
        self.session.send("Network.enable")

    def _response(self, event: dict[str, Any]) -> None:
        request = event["requestId"]
        self.bodies.setdefault(request, [])
        # Events keep arriving while the command below waits: note that this request is being handled.
        self.pending.add(request)
        try:
            # From here on each dataReceived carries its bytes; what came before is buffered.
            buffered = self.session.send("Network.streamResourceContent", {"requestId": request})
        except PlaywrightError:  # not streamable, e.g. already finished: read it whole
            self.pending.discard(request)
            self._read_body(request)
            return
        self.streamed.add(request)
        self.pending.discard(request)
        self.bodies[request].insert(0, base64.b64decode(buffered["bufferedData"]))

    def _data(self, event: dict[str, Any]) -> None:
        request = event["requestId"]
        if event.get("data") and (request in self.streamed or request in self.pending):
            self.bodies[request].append(base64.b64decode(event["data"]))

    def _finished(self, event: dict[str, Any]) -> None:
        request = event["requestId"]
        if request not in self.streamed and request not in self.pending:
            self._read_body(request)

    def _read_body(self, request: str) -> None:
        try:
            body = self.session.send("Network.getResponseBody", {"requestId": request})
        except PlaywrightError:  # e.g. a preflight or a redirect has no body, or it is not finished yet
            return
        data = body["body"]
        self.bodies.setdefault(request, []).append(base64.b64decode(data) if body["base64Encoded"] else data.encode())

    def _frame(self, event: dict[str, Any]) -> None:
        self.bodies.setdefault(event["requestId"], []).append(event["response"]["payloadData"].encode())

    def wait_for(self, page: Page, text: str, count: int = 1, timeout: float = 15.0) -> str:
        """What was received, once `text` is in it `count` times (the DevTools events trail the page)."""
        deadline = time.monotonic() + timeout
        while (received := self.received()).count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not arrive {count} time(s) within {timeout}s")
            page.wait_for_timeout(50)  # lets Playwright deliver the events
        return received

    def received(self) -> str:
        """All bytes received so far, decoded; JSON escapes undone too, so a string sent as
        \\uXXXX is found as well."""
        raw = b"\n".join(b"".join(chunks) for chunks in self.bodies.values()).decode("utf-8", errors="replace")
        return raw + "\n" + JSON_ESCAPE.sub(lambda found: chr(int(found.group(1), 16)), raw)
