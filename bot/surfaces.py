"""Discord surfaces a streamed reply is drawn on: a reply to a message, or an /ask interaction.

Discord's refusals become `DisplayError`s: a missing permission is permanent (stop drawing, the
game goes on); anything else is retried at the next update. A message a moderator deleted
mid-stream is replaced by a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import discord

from bot.streaming import DisplayError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
# Interaction tokens live 15 minutes; stop using one a little before that.
INTERACTION_TOKEN_LIFETIME = timedelta(minutes=14, seconds=30)
ORIGINAL = "original"  # the page that is the interaction's own response

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


async def _send_to(channel: discord.abc.Messageable, content: str) -> discord.Message:
    try:
        return await _discord_call(lambda: channel.send(content, allowed_mentions=NO_MENTIONS))
    except discord.NotFound as error:
        raise DisplayError("the channel is gone", permanent=True) from error


class MessageReplySurface:
    """Page one replies to the question; later pages follow in the channel."""

    def __init__(self, question: discord.Message) -> None:
        self.question = question
        self.channel = question.channel
        self.first_message_id: int | None = None

    async def _send(self, content: str) -> discord.Message:
        return await _send_to(self.channel, content)

    async def post(self, content: str, first: bool) -> discord.Message:
        if not first:
            return await self._send(content)
        try:
            message = await _discord_call(
                lambda: self.question.reply(content, mention_author=False, allowed_mentions=NO_MENTIONS)
            )
        except (discord.NotFound, DisplayError) as error:
            if isinstance(error, DisplayError) and error.permanent:
                raise
            message = await self._send(content)  # the question was deleted: answer without the reference
        self.first_message_id = message.id
        return message

    async def edit(self, page: object, content: str) -> discord.Message:
        assert isinstance(page, discord.Message)
        try:
            return await _discord_call(lambda: page.edit(content=content, allowed_mentions=NO_MENTIONS))
        except discord.NotFound:
            # A moderator deleted the message mid-stream: carry on in a fresh one.
            message = await self._send(content)
            if page.id == self.first_message_id:
                self.first_message_id = message.id
            return message


class InteractionSurface:
    """Page one is the interaction's response; late or extra pages go to the channel."""

    def __init__(self, interaction: discord.Interaction, channel: discord.abc.Messageable) -> None:
        self.interaction = interaction
        self.channel = channel
        self.first_message_id: int | None = None

    def _token_alive(self) -> bool:
        return discord.utils.utcnow() - self.interaction.created_at < INTERACTION_TOKEN_LIFETIME

    async def _send(self, content: str) -> discord.Message:
        return await _send_to(self.channel, content)

    async def post(self, content: str, first: bool) -> object:
        if first and not self.interaction.response.is_done():
            response = self.interaction.response
            callback = await _discord_call(lambda: response.send_message(content, allowed_mentions=NO_MENTIONS))
            self.first_message_id = getattr(callback, "message_id", None)
            return ORIGINAL
        if first and self._token_alive():
            followup = self.interaction.followup
            return await _discord_call(lambda: followup.send(content, allowed_mentions=NO_MENTIONS, wait=True))
        return await self._send(content)

    async def edit(self, page: object, content: str) -> object:
        if isinstance(page, discord.Message) and not isinstance(page, discord.WebhookMessage):
            try:
                return await _discord_call(lambda: page.edit(content=content, allowed_mentions=NO_MENTIONS))
            except discord.NotFound:
                return await self._send(content)
        if not self._token_alive():
            return await self._send(content)
        try:
            if page == ORIGINAL:
                await _discord_call(
                    lambda: self.interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS)
                )
                return page
            assert isinstance(page, discord.WebhookMessage)
            return await _discord_call(lambda: page.edit(content=content, allowed_mentions=NO_MENTIONS))
        except discord.NotFound:
            return await self._send(content)
