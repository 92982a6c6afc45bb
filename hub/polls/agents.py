"""Polls on the agents' control channel: every site's window gets the poll, votes come back.

``PollOpen`` goes to every online site of the briefing when a poll is created (and to a
site that joins while one is open), ``PollClosed`` with the tally when it closes — by the
chair or at its closing time. The clerk's ``vote`` report goes through the same
:meth:`PollService.avote` as the API and is answered with ``meeting.answer``, which says
that the vote was recorded and never what it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hub.conferences.manager import ConferenceManager, SiteConnection
from hub.conferences.signalling import send_quiet
from hub.control.registry import AgentRegistry
from hub.models import utcnow
from hub.polls.model import PollRefused, Unit, Voter
from hub.polls.service import PollService, PollView
from site_agent import protocol as p

log = logging.getLogger("hub.polls.agents")


class PollAgents:
    def __init__(self, polls: PollService, registry: AgentRegistry, conferences: ConferenceManager) -> None:
        self.polls = polls
        self.registry = registry
        self.conferences = conferences
        self._timers: dict[int, asyncio.Task[None]] = {}

    def install(self) -> None:
        self.polls.listeners.append(self.on_poll)
        self.conferences.connection_listeners.append(self.on_connection)
        self.registry.add_message_handler("vote", self.on_vote)

    async def stop(self) -> None:
        for task in self._timers.values():
            task.cancel()
        for task in self._timers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._timers.clear()

    def _sites(self, conference_id: int) -> list[str]:
        live = self.conferences.live.get(conference_id)
        return [c for c in live.conf.participants if self.registry.is_online(c)] if live else []

    async def _open_command(self, view: PollView, site: str) -> p.PollOpen:
        q = view.poll
        people: list[str] = []
        if q.spec.unit is Unit.PERSON:
            names = await asyncio.to_thread(self.polls.identity.identified_people, q.conference_id, site)
            people = sorted(names)[:30]
        return p.PollOpen(conference_id=q.conference_id, poll_id=q.id, question=q.spec.question,
                          options=list(q.spec.options), ballot=q.spec.ballot.value, unit=q.spec.unit.value,
                          closes_at=q.spec.closes_at.timestamp() if q.spec.closes_at else None, people=people)

    @staticmethod
    def _closed_command(view: PollView) -> p.PollClosed:
        return p.PollClosed(conference_id=view.poll.conference_id, poll_id=view.poll.id,
                            counts=list(view.result.counts) if view.result else [])

    # --- pushes ------------------------------------------------------------------------------------
    async def on_poll(self, conference_id: int, poll_id: int, change: str) -> None:
        """The poll service's listener: ``created`` or ``closed`` (a vote changes nothing on the sites)."""
        if change not in ("created", "closed"):
            return
        view = await asyncio.to_thread(self.polls.view, conference_id, poll_id)
        sites = self._sites(conference_id)
        if change == "created":
            commands = [await self._open_command(view, s) for s in sites]
            await asyncio.gather(*(send_quiet(self.registry, s, c) for s, c in zip(sites, commands, strict=True)))
            closes = view.poll.spec.closes_at
            if closes is not None:
                self._timers[poll_id] = asyncio.create_task(self._close_at(conference_id, poll_id,
                                                                           (closes - utcnow()).total_seconds()))
            return
        timer = self._timers.pop(poll_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        command = self._closed_command(view)
        await asyncio.gather(*(send_quiet(self.registry, s, command) for s in sites))

    async def _close_at(self, conference_id: int, poll_id: int, delay: float) -> None:
        """A poll with a closing time: the sites hear the tally when it passes."""
        await asyncio.sleep(max(0.0, delay) + 0.05)
        self._timers.pop(poll_id, None)
        with contextlib.suppress(PollRefused):
            # Every listener hears it, as after the chair's close: the windows, the results card.
            await self.polls.notify(conference_id, poll_id, "closed")

    async def on_connection(self, conn: SiteConnection) -> None:
        if conn.event != "joined":
            return
        for view in await asyncio.to_thread(self.polls.polls, conn.conference_id):
            if view.open:
                await send_quiet(self.registry, conn.site, await self._open_command(view, conn.site))

    # --- the clerk's vote -----------------------------------------------------------------------------
    async def on_vote(self, code: str, msg: Any) -> None:
        assert isinstance(msg, p.VoteReport)
        conn = self.registry.connections.get(code)
        try:
            await self.polls.avote(msg.conference_id, msg.poll_id, Voter(code, msg.person), msg.option,
                                   actor=f"agent:{code}", ip=conn.remote if conn else "")
        except PollRefused as exc:
            await send_quiet(self.registry, code, p.MeetingAnswer(
                conference_id=msg.conference_id, action="vote", ok=False, reason=exc.reason.value,
                message_th=exc.message_th, message_en=exc.message_en, ref=msg.poll_id))
            return
        # The same words for every vote: nothing here pairs the voter with a choice.
        await send_quiet(self.registry, code, p.MeetingAnswer(
            conference_id=msg.conference_id, action="vote", ok=True, ref=msg.poll_id,
            message_th="บันทึกการลงมติแล้ว", message_en="Your vote was recorded"))


__all__ = ["PollAgents"]
