"""The Gradio page: a thin drawing of `WebGames` views, like the cog is of the engine.

What reaches the browser is only what a `View` holds (the answer and the summary only after the game ended)
plus the session token in the browser's local storage. The engine's state stays on the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from bot.web.clients import client_address
from bot.web.game import View, WebGames
from bot.web.texts import LANGUAGES, web_text
from common.config import Config

# Where the browser keeps its session token. Gradio "encrypts" browser state with a key it sends
# to the page anyway; a fixed key only makes the token survive a server restart.
STORAGE_KEY = "turtle-soup-session"
STORAGE_KEY_SECRET = "turtle-soup-session-v1"
CHAT_HEIGHT = 420
CACHE_CLEANING = (3600, 3600)  # every hour, Gradio deletes its temporary files older than an hour
# The chat box's own "clear" button would only blank the browser's copy of the transcript.
PAGE_CSS = '#transcript button[aria-label="Clear"] { display: none; }'


class Page:
    """The components, and how a view is drawn onto them."""

    def __init__(self, web: WebGames, config: Config) -> None:
        self.web = web
        self.config = config
        language = config.game.default_language
        self.session = gr.BrowserState("", storage_key=STORAGE_KEY, secret=STORAGE_KEY_SECRET)
        self.intro = gr.Markdown(web_text(language, "intro"), elem_id="intro")
        self.language = gr.Radio(LANGUAGES, value=language, label=web_text(language, "language"), elem_id="language")
        self.story = gr.Markdown(elem_id="story")
        self.chat = gr.Chatbot(
            label=web_text(language, "transcript"),
            height=CHAT_HEIGHT,
            elem_id="transcript",
            feedback_options=None,
            buttons=[],
            allow_tags=False,  # host replies and questions are text; sanitize_html stays on
        )
        self.progress = gr.Markdown(elem_id="progress", line_breaks=True)
        self.notice = gr.Markdown(elem_id="notice")
        self.summary = gr.Markdown(elem_id="summary", line_breaks=True)
        with gr.Row():
            self.question = gr.Textbox(
                label=web_text(language, "question"),
                placeholder=web_text(language, "placeholder"),
                max_length=config.game.max_question_length,
                elem_id="question",
                scale=5,
            )
            self.ask = gr.Button(web_text(language, "ask"), variant="primary", elem_id="ask", scale=1)
        with gr.Row():
            self.hint = gr.Button(web_text(language, "hint_button"), elem_id="hint")
            self.new_puzzle = gr.Button(web_text(language, "new_puzzle"), elem_id="new-puzzle")
            self.stop = gr.Button(web_text(language, "stop"), variant="stop", elem_id="stop")

    @property
    def outputs(self) -> list[Any]:
        return [
            self.session,
            self.intro,
            self.language,
            self.story,
            self.chat,
            self.progress,
            self.notice,
            self.summary,
            self.question,
            self.ask,
            self.hint,
            self.new_puzzle,
            self.stop,
        ]

    def draw(self, view: View, clear_question: bool = False) -> tuple[Any, ...]:
        """New values for `outputs`, every label in the view's language."""
        language = view.language

        def say(key: str) -> str:
            return web_text(language, key)

        clear = {"value": ""} if clear_question else {}
        return (
            view.token,
            say("intro"),
            gr.Radio(value=language, label=say("language")),
            view.story,
            gr.Chatbot(value=view.chat, label=say("transcript")),
            view.progress,
            view.notice,
            view.summary,
            gr.update(label=say("question"), placeholder=say("placeholder"), **clear),
            gr.Button(say("ask"), interactive=view.playing),
            gr.Button(say("hint_button"), interactive=view.playing),
            gr.Button(say("new_puzzle")),
            gr.Button(say("stop"), interactive=view.playing),
        )

    # -- events ------------------------------------------------------------------------

    # Gradio passes each handler the HTTP request (by its `gr.Request` annotation): its client's address
    # is counted against the per-address limits.

    def address(self, request: gr.Request) -> str:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers, self.config.web.trusted_proxy_header)

    async def on_load(self, token: str, language: str, request: gr.Request) -> tuple[Any, ...]:
        return self.draw(await self.web.open(token, language, self.address(request)))

    async def on_ask(
        self, token: str, question: str, language: str, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        async for view in self.web.ask(token, question, language, self.address(request)):
            yield self.draw(view, clear_question=view.accepted)

    async def on_new_puzzle(self, token: str, language: str, request: gr.Request) -> tuple[Any, ...]:
        return self.draw(await self.web.new_puzzle(token, language, self.address(request)))

    async def on_hint(self, token: str, language: str, request: gr.Request) -> tuple[Any, ...]:
        return self.draw(await self.web.hint(token, language, self.address(request)))

    async def on_stop(self, token: str, language: str, request: gr.Request) -> tuple[Any, ...]:
        return self.draw(await self.web.stop(token, language, self.address(request)))

    def wire(self, page: gr.Blocks) -> None:
        outputs = self.outputs
        common: dict[str, Any] = {"outputs": outputs, "api_visibility": "private", "show_progress": "hidden"}
        page.load(self.on_load, inputs=[self.session, self.language], **common)
        asking = {**common, "concurrency_limit": self.config.web.concurrent_replies}
        inputs = [self.session, self.question, self.language]
        self.ask.click(self.on_ask, inputs=inputs, **asking)
        self.question.submit(self.on_ask, inputs=inputs, **asking)
        self.new_puzzle.click(self.on_new_puzzle, inputs=[self.session, self.language], **common)
        # Picking the other language starts a puzzle in it, as `New puzzle` would.
        self.language.input(self.on_new_puzzle, inputs=[self.session, self.language], **common)
        # A hint may be written by the model: it waits its turn like a reply.
        self.hint.click(self.on_hint, inputs=[self.session, self.language], **asking)
        self.stop.click(self.on_stop, inputs=[self.session, self.language], **common)


def build_page(web: WebGames, config: Config) -> gr.Blocks:
    title = web_text(config.game.default_language, "page_title")
    # Nothing a client sends is kept (uploads are refused); what Gradio writes itself is deleted hourly.
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=CACHE_CLEANING) as page:
        Page(web, config).wire(page)
    page.queue(default_concurrency_limit=config.web.concurrent_replies)
    return page
