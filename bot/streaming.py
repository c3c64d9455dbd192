"""Show a streaming reply by editing messages in place, throttled, splitting at Discord's limits.

The throttle state lives in one `StreamedMessage` per reply, never globally; the edit budget is
Discord's, per channel (`EditBudget`), shared by the replies of one channel, so channels never slow
each other down and a channel's replies never add up past its limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

# Discord allows 2,000 characters of content; keep room for the in-progress marker.
PAGE_LIMIT = 1900
# Discord lets a channel's messages be edited about 5 times per 5 seconds. Intermediate edits (and
# placeholders after the first post) use at most 4 of each window, counting every reply in the
# channel, so a reply's final edit can go out at once.
RATE_WINDOW = 5.0
RATE_EDITS = 5
# Channels whose budgets are kept before idle ones are dropped.
BUDGETS_KEPT = 10_000

T = TypeVar("T")


class DisplayError(Exception):
    """A surface could not show the text. Permanent: stop trying (no permission, channel gone);
    otherwise the next update tries again."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Surface(Protocol):
    """Where a reply appears: a reply to a message, or an interaction's response."""

    async def post(self, content: str, first: bool) -> object: ...

    async def edit(self, page: object, content: str) -> object: ...


def split_pages(content: str, limit: int = PAGE_LIMIT) -> list[str]:
    """Split at a newline or space near the limit, so words stay whole."""
    pages: list[str] = []
    rest = content
    while len(rest) > limit:
        cut = rest.rfind("\n", limit // 2, limit)
        if cut <= 0:
            cut = rest.rfind(" ", limit // 2, limit)
        if cut <= 0:
            cut = limit
        pages.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pages.append(rest)
    return pages


class EditBudget:
    """The latest edits in one channel, against Discord's limit of RATE_EDITS per RATE_WINDOW there."""

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=RATE_EDITS)

    def next_at(self) -> float:
        """When an intermediate edit may go out: it keeps the window's last slot free for a final one."""
        allowed = RATE_EDITS - 1
        return self.times[-allowed] + RATE_WINDOW if len(self.times) >= allowed else float("-inf")

    def idle(self, now: float) -> bool:
        return not self.times or self.times[-1] + RATE_WINDOW <= now

    def spend(self) -> None:
        self.times.append(asyncio.get_running_loop().time())


class EditBudgets:
    """One EditBudget per channel, shared by every reply streamed there by this process."""

    def __init__(self) -> None:
        self._by_channel: dict[int, EditBudget] = {}

    def of(self, channel_id: int) -> EditBudget:
        budget = self._by_channel.get(channel_id)
        if budget is None:
            if len(self._by_channel) >= BUDGETS_KEPT:
                now = asyncio.get_running_loop().time()
                self._by_channel = {key: kept for key, kept in self._by_channel.items() if not kept.idle(now)}
            budget = self._by_channel[channel_id] = EditBudget()
        return budget


class StreamedMessage:
    """The pages of one reply, what each currently shows, and when it was last edited."""

    def __init__(self, surface: Surface, budget: EditBudget | None = None) -> None:
        self.surface = surface
        self.budget = budget or EditBudget()
        self.pages: list[object] = []
        self.shown: list[str] = []
        self.last_update = float("-inf")
        self.updates = 0
        self.gone = False

    def next_edit_at(self, interval: float) -> float:
        """When an intermediate edit may go out: an interval after the last, and within the channel's budget."""
        return max(self.last_update + interval, self.budget.next_at())

    async def show(self, content: str) -> bool:
        """Bring the pages up to `content`; False when that could not be done (it is logged)."""
        self.last_update = asyncio.get_running_loop().time()
        if self.gone:
            return False
        try:
            await self._show(content)
        except DisplayError as error:
            self.gone = error.permanent
            log.warning("could not show a reply (%s): %s", "giving up" if error.permanent else "will retry", error)
            return False
        return True

    async def _show(self, content: str) -> None:
        chunks = split_pages(content)
        if len(chunks) < len(self.pages):
            # The text shrank (e.g. a leak was masked): blank the pages it no longer needs.
            chunks += ["…"] * (len(self.pages) - len(chunks))
        for index, chunk in enumerate(chunks):
            if index < len(self.pages):
                if self.shown[index] != chunk:
                    # Every edit counts against the channel's budget, also a second page's.
                    self.budget.spend()
                    self.pages[index] = await self.surface.edit(self.pages[index], chunk)
                    self.shown[index] = chunk
            else:
                self.pages.append(await self.surface.post(chunk, first=index == 0))
                self.shown.append(chunk)
        self.updates += 1


async def stream_to(
    surface: Surface,
    updates: AsyncIterator[T],
    render: Callable[[T], str],
    interval: float,
    is_final: Callable[[T], bool],
    is_placeholder: Callable[[T], bool] = lambda update: False,
    budget: EditBudget | None = None,
    *,
    first_wait: float = 0.0,
    ends_wait: Callable[[T], bool] = lambda update: False,
    on_shown: Callable[[T], Awaitable[None]] | None = None,
) -> T | None:
    """Show each update as it comes, at most one edit per `interval`, the final one at once.

    Nothing is posted for `first_wait` seconds: a reply final by then is posted once (one Discord
    call instead of placeholder, text and final). When the wait ends the latest update is posted,
    whatever it is (text, or a placeholder when the model is silent); an update that comes later,
    or one that `ends_wait` (queued, or the model is thinking: the reply will take a while), is posted at once.
    Placeholders are shown as soon as the channel's edit `budget` allows; the text after one is held
    `first_wait` from its arrival (not a whole interval), so a reply that completes meanwhile takes one
    edit, not two. Later text that arrives within the interval is held and flushed when the interval ends,
    even if no newer chunk arrives.
    `on_shown` is awaited after each update shown before the final one.
    """
    stream = _ThrottledStream(StreamedMessage(surface, budget), render, interval, is_placeholder, ends_wait)
    stream.on_shown = on_shown
    stream.first_wait = first_wait
    stream.hold_first(first_wait)
    pending: asyncio.Future[T] | None = None
    # A plain loop, not an async generator: SimCord (and debuggers) follow awaits through
    # coroutines, not through a generator's asend.
    try:
        while True:
            try:
                if stream.flush_at is None and pending is None:
                    update = await anext(updates)  # nothing held back: no race to run
                else:
                    pending = pending or asyncio.ensure_future(anext(updates))
                    if not await stream.wait_for(pending):
                        continue  # a held edit was flushed; the next update is still coming
                    update, pending = pending.result(), None
            except StopAsyncIteration:
                break
            if is_final(update):
                stream.latest = update
                break
            await stream.offer(update)
        return await stream.finish()
    finally:
        stream.cancel()  # a deadline, not a task: nothing is left to run after the reply
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(updates, "aclose", None)
        if aclose is not None:
            await aclose()


class _ThrottledStream(Generic[T]):
    def __init__(
        self,
        message: StreamedMessage,
        render: Callable[[T], str],
        interval: float,
        is_placeholder: Callable[[T], bool],
        ends_wait: Callable[[T], bool],
    ) -> None:
        self.message = message
        self.render = render
        self.interval = interval
        self.is_placeholder = is_placeholder
        self.ends_wait = ends_wait
        self.latest: T | None = None
        # When the held edit is flushed (loop time), kept across chunk arrivals (re-arming it per chunk would
        # postpone the flush for as long as chunks keep coming). A deadline for the wait's timeout, not a sleeping
        # task: a timer task cancelled at the end would finish in step with the reply's own task, and a harness
        # that waits for the bot to go idle (SimCord's settle) then sits out a whole idle poll.
        self.flush_at: float | None = None
        self.holding_first = False  # the first post waits for the flush timer
        self.after_placeholder = False  # the reply's page shows a placeholder (thinking, queued, silent model)
        self.first_wait = 0.0
        self.on_shown: Callable[[T], Awaitable[None]] | None = None

    def hold_first(self, seconds: float) -> None:
        if seconds > 0:
            self.holding_first = True
            self.flush_at = asyncio.get_running_loop().time() + seconds

    async def offer(self, update: T) -> None:
        self.latest = update
        if self.holding_first:
            if not self.ends_wait(update):
                return  # posted when the first wait ends, unless the final comes first
            self.cancel()
            self.holding_first = False
        placeholder = self.is_placeholder(update)
        now = asyncio.get_running_loop().time()
        if self.after_placeholder and not placeholder:
            # The first text after a placeholder waits `first_wait` from its arrival, as a first post does: a reply
            # that completes meanwhile (a thinking model's short answer) replaces the placeholder in one edit.
            if self.flush_at is None:
                self.flush_at = max(now + self.first_wait, self.message.budget.next_at())
            return
        due = self.message.next_edit_at(0.0 if placeholder else self.interval) - now
        if not self.message.pages or due <= 0:  # the first post is no edit: it never waits
            await self._show(update)
        elif self.flush_at is None:
            self.flush_at = now + due

    async def wait_for(self, pending: asyncio.Future[T]) -> bool:
        """Wait for the next update, showing held text when its interval ends; True once it came."""
        if self.flush_at is None:
            await asyncio.wait({pending})
            return True
        loop = asyncio.get_running_loop()
        await asyncio.wait({pending}, timeout=max(0.0, self.flush_at - loop.time()))
        if loop.time() >= self.flush_at:
            self.flush_at = None
            self.holding_first = False
            if self.latest is None:  # the wait ended before anything came: the first update posts at once
                return pending.done()
            await self._show(self.latest)
        return pending.done()

    async def _show(self, update: T) -> None:
        """Show an update before the final one."""
        shown = await self.message.show(self.render(update))
        self.after_placeholder = self.is_placeholder(update)
        if shown and self.on_shown is not None:
            await self.on_shown(update)

    async def finish(self) -> T | None:
        self.cancel()
        if self.latest is not None and not await self.message.show(self.render(self.latest)):
            await self.message.show(self.render(self.latest))  # the final text matters most: one more try
        return self.latest

    def cancel(self) -> None:
        self.flush_at = None
