"""The poll results card in the program: shown when a poll closes (or when the chair asks), drawn by
the media worker (hub.media.card) and taken down after :data:`SHOW_S` or by the chair.

A secret ballot's card shows the tally only, which every district sees anyway once it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.conferences.manager import ConferenceManager
from hub.media import channel
from hub.media.client import MediaWorkerError
from hub.polls.model import PollRefused, Refusal
from hub.polls.service import PollService

log = logging.getLogger("hub.polls.card")

SHOW_S = 30.0  # how long the card stays after a poll closes, unless the chair takes it down


class ProgramCard:
    def __init__(self, polls: PollService, conferences: ConferenceManager, show_s: float = SHOW_S) -> None:
        self.polls = polls
        self.conferences = conferences
        self.show_s = show_s
        self._timers: dict[int, asyncio.Task[None]] = {}
        self.shown: dict[int, int] = {}  # conference → the poll on its card

    def install(self) -> None:
        self.polls.listeners.append(self.on_poll)

    async def stop(self) -> None:
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()

    async def on_poll(self, conference_id: int, poll_id: int, change: str) -> None:
        if change == "closed":
            # Best effort: a poll closed after the briefing (or with its media down) has no program.
            with contextlib.suppress(PollRefused):
                await self.show(conference_id, poll_id, self.show_s)

    async def _send(self, conference_id: int, op: channel.PollCard) -> None:
        live = self.conferences.live.get(conference_id)
        if live is None or live.worker is None or not live.worker.running:
            raise PollRefused(Refusal.BRIEFING_ENDED, "no program is running for this briefing")
        try:
            await live.worker.request(op)
        except MediaWorkerError as exc:
            log.warning("conference %s: the results card was not sent: %s", conference_id, exc)
            raise PollRefused(Refusal.BRIEFING_ENDED, str(exc)) from exc

    async def show(self, conference_id: int, poll_id: int, seconds: float | None = None) -> None:
        """Put the poll's results on the program (a secret ballot's only once it closed)."""
        view = await asyncio.to_thread(self.polls.view, conference_id, poll_id)
        if view.result is None:
            raise PollRefused(Refusal.BAD_POLL, "a secret ballot's result is shown only once it closed")
        q = view.poll
        await self._send(conference_id, channel.PollCard(
            show=True, poll_id=q.id, question=q.spec.question, options=list(q.spec.options),
            counts=list(view.result.counts), voters=view.result.voters, ballot=q.spec.ballot.value))
        self.shown[conference_id] = poll_id
        old = self._timers.pop(conference_id, None)
        if old is not None:
            old.cancel()
        if seconds is not None:
            self._timers[conference_id] = asyncio.create_task(self._hide_after(conference_id, seconds))

    async def hide(self, conference_id: int) -> None:
        timer = self._timers.pop(conference_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        self.shown.pop(conference_id, None)
        await self._send(conference_id, channel.PollCard(show=False))

    async def _hide_after(self, conference_id: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        with contextlib.suppress(PollRefused):
            await self.hide(conference_id)
