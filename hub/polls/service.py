"""Poll runtime: create, vote, close, results — the one entry point for every voting surface.

The HTTP API calls it today; the agent's window and the guest page (phase 2)
call :meth:`PollService.vote` the same way. A vote, its tally and its audit
event are one transaction. For a secret ballot the audit event says only that
the voter voted, no log line names voter or choice, and the running tally is
not published while the poll is open (a watcher could otherwise pair each
"voted" event with the counter that moved).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hub.db import session_scope
from hub.events import EventBus
from hub.identity.model import IdentityRefused
from hub.identity.service import IdentityService
from hub.models import AuditEvent, utcnow
from hub.polls import store
from hub.polls.model import (
    Ballot,
    Poll,
    PollRefused,
    PollSpec,
    Refusal,
    Result,
    Voter,
    check_vote,
    tally,
)

log = logging.getLogger("hub.polls")


def target(conference_id: int) -> str:
    return f"conference:{conference_id}"


@dataclass(frozen=True)
class PollView:
    poll: Poll
    open: bool
    ended_at: datetime | None
    voters: list[str]  # who voted (sorted), never how, for a secret ballot
    result: Result | None  # None for a secret ballot still open
    choices: list[tuple[str, int, datetime]]  # open ballots: (voter, option, when)


class PollService:
    def __init__(self, engine: sa.Engine, identity: IdentityService, events: EventBus | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.identity = identity
        self.events = events
        self.clock = clock
        # Told (conference, poll, "created" | "voted" | "closed") after each change: the agents'
        # windows (hub.polls.agents) and the program's results card.
        self.listeners: list[Callable[[int, int, str], Awaitable[None]]] = []

    def _roster(self, conference_id: int) -> set[str]:
        try:
            r = self.identity.roster(conference_id)
        except IdentityRefused as exc:
            raise PollRefused(Refusal.UNKNOWN_POLL, "no such briefing") from exc
        return r.participants

    def _audit(self, s: Session, actor: str, action: str, conference_id: int, ip: str, at: datetime,
               detail: dict[str, object]) -> None:
        # In the caller's transaction: the change and its audit row commit together.
        s.add(AuditEvent(at=at, actor=actor[:100], action=action, target=target(conference_id), ip=ip[:64],
                         detail=detail))

    # --- the chair (or a district, when allowed) ----------------------------------------------
    def allow_districts(self, conference_id: int, on: bool, *, actor: str, ip: str = "") -> None:
        self._roster(conference_id)
        at = self.clock()
        with session_scope(self.engine) as s:
            row = s.get(store.PollSettings, conference_id) or store.PollSettings(conference_id=conference_id)
            row.districts_may_create = on
            s.add(row)
            self._audit(s, actor, "poll.districts_may_create", conference_id, ip, at, {"on": on})

    def create(self, conference_id: int, spec: PollSpec, *, actor: str, ip: str = "",
               district: str | None = None) -> Poll:
        roster = self._roster(conference_id)
        now = self.clock()
        spec = spec.checked(now)
        with session_scope(self.engine) as s:
            if district is not None:
                if district not in roster:
                    raise PollRefused(Refusal.NOT_IN_BRIEFING, district)
                if not store.districts_may_create(s, conference_id):
                    raise PollRefused(Refusal.CREATE_NOT_ALLOWED)
            rec = store.create(s, conference_id, spec, actor, now)
            poll = store.as_poll(rec)
            self._audit(s, actor, "poll.created", conference_id, ip, now,
                        {"poll": poll.id, "question": spec.question, "options": list(spec.options),
                         "ballot": spec.ballot.value, "unit": spec.unit.value,
                         "closes_at": spec.closes_at.isoformat() if spec.closes_at else None})
        log.info("poll %s created in conference %s (%s ballot)", poll.id, conference_id, spec.ballot.value)
        return poll

    def close(self, conference_id: int, poll_id: int, *, actor: str, ip: str = "") -> Poll:
        now = self.clock()
        with session_scope(self.engine) as s:
            rec = store.get(s, conference_id, poll_id)
            if rec is None:
                raise PollRefused(Refusal.UNKNOWN_POLL, str(poll_id))
            if not store.as_poll(rec).is_open(now):
                raise PollRefused(Refusal.ALREADY_CLOSED)
            rec.closed_at, rec.closed_by = now, actor[:100]
            s.add(rec)
            counts = store.counts(s, poll_id)
            self._audit(s, actor, "poll.closed", conference_id, ip, now, {"poll": poll_id, "tally": counts})
            poll = store.as_poll(rec)
        log.info("poll %s closed", poll_id)
        return poll

    # --- voting ---------------------------------------------------------------------------------
    def vote(self, conference_id: int, poll_id: int, voter: Voter, option: int, *, actor: str,
             ip: str = "") -> None:
        """Cast one vote, or raise :class:`PollRefused` saying why not."""
        roster = self._roster(conference_id)
        identified = self.identity.identified_people(conference_id, voter.participant) if voter.person else set()
        now = self.clock()
        try:
            with session_scope(self.engine) as s:
                rec = store.get(s, conference_id, poll_id)
                poll = store.as_poll(rec) if rec is not None else None
                key = voter.key(poll.spec.unit) if poll is not None else voter.participant
                already = poll is not None and store.has_voted(s, poll.id, key)
                key = check_vote(poll, voter, option, roster=roster, identified=identified, already_voted=already,
                                 now=now)
                assert poll is not None
                store.cast(s, poll, key, voter.participant, option, now)
                detail: dict[str, object] = {"poll": poll.id, "voter": key}
                if poll.spec.ballot is Ballot.OPEN:
                    detail["option"] = option
                self._audit(s, actor, "poll.voted", conference_id, ip, now, detail)
        except IntegrityError as exc:  # the same voter in two racing requests
            raise PollRefused(Refusal.DOUBLE_VOTE) from exc
        log.info("poll %s: a vote was recorded", poll_id)

    # --- reading --------------------------------------------------------------------------------
    def view(self, conference_id: int, poll_id: int) -> PollView:
        now = self.clock()
        with session_scope(self.engine) as s:
            rec = store.get(s, conference_id, poll_id)
            if rec is None:
                raise PollRefused(Refusal.UNKNOWN_POLL, str(poll_id))
            return self._view(s, store.as_poll(rec), now)

    def polls(self, conference_id: int) -> list[PollView]:
        now = self.clock()
        with session_scope(self.engine) as s:
            return [self._view(s, store.as_poll(r), now) for r in store.for_conference(s, conference_id)]

    def _view(self, s: Session, poll: Poll, now: datetime) -> PollView:
        voters = [v.voter for v in store.voters(s, poll.id)]
        is_open = poll.is_open(now)
        hide = poll.spec.ballot is Ballot.SECRET and is_open
        result = None if hide else tally(poll.spec.options, store.counts(s, poll.id), len(voters))
        choices = ([(v.voter, v.option_index, v.voted_at) for v in store.open_votes(s, poll.id)]
                   if poll.spec.ballot is Ballot.OPEN else [])
        return PollView(poll, is_open, poll.ended_at(now), voters, result, choices)

    # --- from the event loop: run in a thread, then tell the control room ----------------------
    async def acreate(self, conference_id: int, spec: PollSpec, *, actor: str, ip: str = "",
                      district: str | None = None) -> Poll:
        poll = await asyncio.to_thread(self.create, conference_id, spec, actor=actor, ip=ip, district=district)
        await self._publish(conference_id, poll.id, "created")
        return poll

    async def aclose(self, conference_id: int, poll_id: int, *, actor: str, ip: str = "") -> Poll:
        poll = await asyncio.to_thread(self.close, conference_id, poll_id, actor=actor, ip=ip)
        await self._publish(conference_id, poll_id, "closed")
        return poll

    async def avote(self, conference_id: int, poll_id: int, voter: Voter, option: int, *, actor: str,
                    ip: str = "") -> None:
        await asyncio.to_thread(self.vote, conference_id, poll_id, voter, option, actor=actor, ip=ip)
        await self._publish(conference_id, poll_id, "voted")

    async def notify(self, conference_id: int, poll_id: int, change: str) -> None:
        """Tell the listeners and the control room (a poll that closed by its closing time, too)."""
        await self._publish(conference_id, poll_id, change)

    async def _publish(self, conference_id: int, poll_id: int, change: str) -> None:
        for listener in list(self.listeners):
            try:
                await listener(conference_id, poll_id, change)
            except Exception:  # a site that cannot be told must not undo the vote
                log.exception("poll listener failed")
        # EventBus queues belong to the loop: publish here, never from the worker thread.
        if self.events is None:
            return
        view = await asyncio.to_thread(self.view, conference_id, poll_id)
        self.events.publish("poll", {
            "conference": conference_id, "poll": poll_id, "open": view.open, "voters": len(view.voters),
            "counts": list(view.result.counts) if view.result else None,
        })
