"""Discord surfaces a streamed reply is drawn on: a reply to a message, or an /ask interaction."""

from __future__ import annotations

import logging
from datetime import timedelta

import discord

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
# Interaction tokens live 15 minutes; stop using one a little before that.
INTERACTION_TOKEN_LIFETIME = timedelta(minutes=14, seconds=30)


class MessageReplySurface:
    """Page one replies to the question; later pages follow in the channel."""

    def __init__(self, question: discord.Message) -> None:
        self.question = question
        self.channel = question.channel

    async def post(self, content: str, first: bool) -> discord.Message:
        if first:
            try:
                return await self.question.reply(content, mention_author=False, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as error:
                if error.code != 50035:  # the question was deleted: reply without the reference
                    raise
        return await self.channel.send(content, allowed_mentions=NO_MENTIONS)

    async def edit(self, page: object, content: str) -> discord.Message:
        assert isinstance(page, discord.Message)
        try:
            return await page.edit(content=content, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            # A moderator deleted the message mid-stream: carry on in a fresh one.
            return await self.channel.send(content, allowed_mentions=NO_MENTIONS)


class InteractionSurface:
    """Page one is the interaction's response; late or extra pages go to the channel."""

    def __init__(self, interaction: discord.Interaction, channel: discord.abc.Messageable) -> None:
        self.interaction = interaction
        self.channel = channel

    def _token_alive(self) -> bool:
        return discord.utils.utcnow() - self.interaction.created_at < INTERACTION_TOKEN_LIFETIME

    async def post(self, content: str, first: bool) -> object:
        if first and not self.interaction.response.is_done():
            await self.interaction.response.send_message(content, allowed_mentions=NO_MENTIONS)
            return "original"
        if first and self._token_alive():
            return await self.interaction.followup.send(content, allowed_mentions=NO_MENTIONS, wait=True)
        return await self.channel.send(content, allowed_mentions=NO_MENTIONS)

    async def edit(self, page: object, content: str) -> object:
        if isinstance(page, discord.Message) and not isinstance(page, discord.WebhookMessage):
            try:
                return await page.edit(content=content, allowed_mentions=NO_MENTIONS)
            except discord.NotFound:
                return await self.channel.send(content, allowed_mentions=NO_MENTIONS)
        if not self._token_alive():
            return await self.channel.send(content, allowed_mentions=NO_MENTIONS)
        try:
            if page == "original":
                await self.interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS)
                return page
            assert isinstance(page, discord.WebhookMessage)
            return await page.edit(content=content, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            return await self.channel.send(content, allowed_mentions=NO_MENTIONS)
