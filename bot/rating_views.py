"""The rating buttons after a reveal: a discord.py dynamic item whose custom id, `rate:<game id>:<up|down>`,
names all a click needs (everything else is in Redis), so a button keeps working after a restart and in any
bot process. The cog that counts the clicks is bot.cogs.ratings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.game.ratings import DOWN, UP

RATINGS_COG = "RatingsCog"
VOTE_EMOJI = {UP: "👍", DOWN: "👎"}


class RateButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rate:(?P<rest>.*)"):
    """👍 or 👎 for one revealed game. Any `rate:` id comes here, so a malformed one gets a clear answer."""

    def __init__(self, game_id: str, vote: str, label: str = "") -> None:
        style = discord.ButtonStyle.success if vote == UP else discord.ButtonStyle.secondary
        button: discord.ui.Button[Any] = discord.ui.Button(
            style=style, label=label or None, emoji=VOTE_EMOJI.get(vote), custom_id=f"rate:{game_id}:{vote}"[:100]
        )
        super().__init__(button)
        self.game_id, self.vote = game_id, vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RateButton:
        game_id, _, vote = match["rest"].partition(":")
        return cls(game_id, vote)

    async def callback(self, interaction: discord.Interaction) -> None:
        # By name: discord.py loads each extension as a module of its own, so the cog's class is not importable.
        cog = interaction.client.get_cog(RATINGS_COG)  # type: ignore[attr-defined]
        clicked = getattr(cog, "clicked", None)
        if clicked is not None:
            await clicked(interaction, self.game_id, self.vote)


@dataclass(frozen=True, slots=True)
class RatingOffer:
    """What a reveal's last message carries: the invitation to rate, and the buttons."""

    prompt: str
    view: discord.ui.View


def placed(
    offer: RatingOffer | None, content: str | None, embeds: Sequence[discord.Embed], summary: discord.Embed
) -> tuple[str | None, dict[str, Any]]:
    """The content and extra send options of the message holding `embeds`: the offer goes with the summary."""
    if offer is None or not any(embed is summary for embed in embeds):
        return content, {}
    return (f"{content}\n{offer.prompt}" if content else offer.prompt), {"view": offer.view}
