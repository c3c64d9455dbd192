"""Discord surfaces a streamed reply is drawn on: a reply to a message, or an /ask interaction.

Discord's refusals become `DisplayError`s: a missing permission is permanent (stop drawing, the
game goes on); anything else is retried at the next update. A message a moderator deleted
mid-stream is replaced by a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

import discord

from bot.game.puzzles import MESSAGE_EMBEDS_LIMIT
from bot.streaming import DisplayError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
# Interaction tokens live 15 minutes; stop using one a little before that.
INTERACTION_TOKEN_LIFETIME = timedelta(minutes=14, seconds=30)
ORIGINAL = "original"  # the page that is the interaction's own response
# Discord drops an interaction not answered within 3 s; work still running after this long is
# deferred ("thinking…") first, leaving a second for the defer itself to arrive.
ACKNOWLEDGE_WITHIN = 2.0
# What Discord answers for an interaction past its deadline (or a token past its 15 minutes).
EXPIRED_CODES = (10062, 10015)  # Unknown Interaction, Unknown Webhook
# Discord's limit on the number of embeds in one message (their characters: MESSAGE_EMBEDS_LIMIT).
MESSAGE_EMBEDS = 10

T = TypeVar("T")


async def _discord_call(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except discord.Forbidden as error:
        raise DisplayError(f"missing permission: {error.text}", permanent=True) from error
    except discord.NotFound:
        raise
    except discord.HTTPException as error:
        raise DisplayError(f"HTTP {error.status}: {error.text}", permanent=False) from error


async def _send_to(channel: discord.abc.Messageable, content: str, **options: Any) -> discord.Message:
    try:
        return await _discord_call(lambda: channel.send(content, allowed_mentions=NO_MENTIONS, **options))
    except discord.NotFound as error:
        raise DisplayError("the channel is gone", permanent=True) from error


def _expired(error: discord.NotFound) -> bool:
    return error.code in EXPIRED_CODES


def embed_batches(embeds: Iterable[discord.Embed]) -> list[list[discord.Embed]]:
    """The embeds in order, grouped into as few messages as Discord's limits allow (e.g. a long
    answer's reveal and a long new story go out as two messages rather than failing as one)."""
    batches: list[list[discord.Embed]] = []
    for embed in embeds:
        last = batches[-1] if batches else None
        if last and len(last) < MESSAGE_EMBEDS and sum(map(len, last)) + len(embed) <= MESSAGE_EMBEDS_LIMIT:
            last.append(embed)
        else:
            batches.append([embed])
    return batches


class InteractionReplies:
    """Answers one slash command: at once when its work is quick, deferred before Discord's 3 s
    deadline when it is not, and in the channel when the interaction has expired."""

    def __init__(self, interaction: discord.Interaction, channel: discord.abc.Messageable) -> None:
        self.interaction = interaction
        self.channel = channel
        self.started = asyncio.get_running_loop().time()
        self.expired = False

    async def in_time(self, work: Awaitable[T]) -> T:
        """Await `work`, deferring the response if it runs past ACKNOWLEDGE_WITHIN."""
        task = asyncio.ensure_future(work)
        if not (self.expired or self.interaction.response.is_done()):
            left = self.started + ACKNOWLEDGE_WITHIN - asyncio.get_running_loop().time()
            try:
                done, _ = await asyncio.wait({task}, timeout=max(left, 0.0))
            except asyncio.CancelledError:
                task.cancel()
                raise
            if not done:
                await self.defer()
        return await task

    async def defer(self) -> None:
        try:
            await self.interaction.response.defer(thinking=True)
        except discord.NotFound as error:
            if not _expired(error):
                raise
            self._expire(error)

    def token_alive(self) -> bool:
        return discord.utils.utcnow() - self.interaction.created_at < INTERACTION_TOKEN_LIFETIME

    def _expire(self, error: discord.NotFound) -> None:
        log.info("interaction %s expired (%s): answering in the channel", self.interaction.id, error.text)
        self.expired = True

    async def send(
        self,
        content: str | None = None,
        *,
        embeds: Iterable[discord.Embed] = (),
        ephemeral: bool = False,
        view: discord.ui.View | None = None,
    ) -> None:
        """The response, a follow-up once responded (or deferred), or a channel message once expired
        (a note meant for the caller alone then goes to the channel too: better than nothing)."""
        options: dict[str, Any] = {"embeds": list(embeds), "allowed_mentions": NO_MENTIONS}
        if view is not None:
            options["view"] = view
        if not self.expired:
            response = self.interaction.response
            try:
                if not response.is_done():
                    await response.send_message(content, ephemeral=ephemeral, **options)
                    return
                if self.token_alive():
                    await self.interaction.followup.send(content, ephemeral=ephemeral, **options)
                    return
            except discord.NotFound as error:
                if not _expired(error):
                    raise
                self._expire(error)
        await self.channel.send(content, **options)


class ButtonsOnPageOne:
    """Buttons a reply's first page carries (the appeal button, bot/cogs/appeals.py): whoever draws the reply
    sets `view` before a page is drawn; None takes off a view shown before. Nothing is sent while none was set."""

    view: discord.ui.View | None = None
    _view_on_page: discord.ui.View | None = None  # the view page one carries now

    def _view_options(self, first_page: bool, edit: bool = False) -> dict[str, Any]:
        """What a post (or, `edit`, an edit) of a page sends about the view. An edit of page one that still carries
        this very view sends none: Discord keeps a message's components when an edit leaves them out, and
        discord.py would serialize and store the view again on every streamed edit."""
        if not first_page or (self.view is None and self._view_on_page is None):
            return {}
        if edit and self.view is self._view_on_page:
            return {}
        self._view_on_page = self.view
        return {"view": self.view}


class MessageReplySurface(ButtonsOnPageOne):
    """Page one replies to the question; later pages follow in the channel."""

    def __init__(self, question: discord.Message) -> None:
        self.question = question
        self.channel = question.channel
        self.first_message_id: int | None = None

    async def _send(self, content: str, **options: Any) -> discord.Message:
        return await _send_to(self.channel, content, **options)

    async def post(self, content: str, first: bool) -> discord.Message:
        if not first:
            return await self._send(content)
        options = self._view_options(True)
        try:
            message = await _discord_call(
                lambda: self.question.reply(content, mention_author=False, allowed_mentions=NO_MENTIONS, **options)
            )
        except (discord.NotFound, DisplayError) as error:
            if isinstance(error, DisplayError) and error.permanent:
                raise
            message = await self._send(content, **options)  # the question was deleted: answer without the reference
        self.first_message_id = message.id
        return message

    async def edit(self, page: object, content: str) -> discord.Message:
        assert isinstance(page, discord.Message)
        first = page.id == self.first_message_id
        options = self._view_options(first, edit=True)
        try:
            return await _discord_call(lambda: page.edit(content=content, allowed_mentions=NO_MENTIONS, **options))
        except discord.NotFound:
            # A moderator deleted the message mid-stream: carry on in a fresh one.
            message = await self._send(content, **self._view_options(first))
            if page.id == self.first_message_id:
                self.first_message_id = message.id
            return message


class InteractionSurface(ButtonsOnPageOne):
    """Page one is the interaction's response (or completes its deferred one); late or extra pages,
    and every page once the interaction expired, go to the channel."""

    def __init__(
        self, interaction: discord.Interaction, channel: discord.abc.Messageable, expired: bool = False
    ) -> None:
        self.interaction = interaction
        self.channel = channel
        self.expired = expired
        self.first_message_id: int | None = None

    def _token_alive(self) -> bool:
        return discord.utils.utcnow() - self.interaction.created_at < INTERACTION_TOKEN_LIFETIME

    async def _send(self, content: str, **options: Any) -> discord.Message:
        return await _send_to(self.channel, content, **options)

    async def post(self, content: str, first: bool) -> object:
        options = self._view_options(first)
        if first and not self.expired:
            try:
                page = await self._respond(content, **options)
            except discord.NotFound as error:
                if not _expired(error):
                    raise DisplayError(f"HTTP 404: {error.text}", permanent=False) from error
                log.info("interaction %s expired: the reply goes to the channel", self.interaction.id)
                self.expired, page = True, None
            if page is not None:
                return page
        message = await self._send(content, **options)
        if first:
            self.first_message_id = message.id
        return message

    async def _respond(self, content: str, **options: Any) -> object | None:
        """Page one as the interaction's response; None when its token is too old for that."""
        if not self.interaction.response.is_done():
            response = self.interaction.response
            callback = await _discord_call(
                lambda: response.send_message(content, allowed_mentions=NO_MENTIONS, **options)
            )
            self.first_message_id = getattr(callback, "message_id", None)
            return ORIGINAL
        if not self._token_alive():
            return None
        # After a defer, the first follow-up completes the "thinking…" response.
        followup = self.interaction.followup
        message = await _discord_call(
            lambda: followup.send(content, allowed_mentions=NO_MENTIONS, wait=True, **options)
        )
        self.first_message_id = message.id
        return message

    async def edit(self, page: object, content: str) -> object:
        first = page == ORIGINAL or getattr(page, "id", None) == self.first_message_id
        options = self._view_options(first, edit=True)
        if isinstance(page, discord.Message) and not isinstance(page, discord.WebhookMessage):
            try:
                return await _discord_call(lambda: page.edit(content=content, allowed_mentions=NO_MENTIONS, **options))
            except discord.NotFound:
                return await self._send(content, **self._view_options(first))
        if not self._token_alive():
            return await self._send(content, **self._view_options(first))
        try:
            if page == ORIGINAL:
                await _discord_call(
                    lambda: self.interaction.edit_original_response(
                        content=content, allowed_mentions=NO_MENTIONS, **options
                    )
                )
                return page
            assert isinstance(page, discord.WebhookMessage)
            return await _discord_call(lambda: page.edit(content=content, allowed_mentions=NO_MENTIONS, **options))
        except discord.NotFound:
            return await self._send(content, **self._view_options(first))
