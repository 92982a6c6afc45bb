"""The clerk's part of the meeting: who is in the room, the roll call, votes, the confidential join code.

Hub → agent (typed, site_agent.protocol.commands): ``IdentityPrompt`` (the district
joined: say who is present), ``RollCallStart``, ``PollOpen`` / ``PollClosed``,
``JoinRefused`` (a confidential briefing wants the e-mailed code) and
``MeetingAnswer``, the hub's answer to each of the clerk's actions. Agent → hub:
``IdentityReport``, ``RollCallReply``, ``VoteReport``, ``JoinCodeReport``.

The window shows :class:`MeetingState` (frozen, replaced on each change). A secret
ballot's choice is sent and forgotten: the state keeps *that* the site (or a person)
voted, never what, and no log line names the option.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from site_agent import protocol as p
from site_agent.client import AgentClient

log = logging.getLogger("site_agent.clerk.meeting")

SITE_VOTE = ""  # the key of the site's own vote in ``PollItem.voted`` (per-person polls use names)


@dataclass(frozen=True)
class PollItem:
    poll_id: int
    question: str
    options: tuple[str, ...]
    ballot: str  # open | secret
    unit: str  # site | person
    closes_at: datetime | None
    people: tuple[str, ...] = ()  # who may vote in a per-person poll
    voted: frozenset[str] = frozenset()  # SITE_VOTE, or the names that voted
    closed: bool = False
    counts: tuple[int, ...] | None = None

    def open_for(self, person: str | None = None) -> bool:
        """May this site (or ``person``) still vote here?"""
        if self.closed:
            return False
        if self.unit == "person":
            return person is not None and person not in self.voted
        return SITE_VOTE not in self.voted


@dataclass(frozen=True)
class Refused:
    reason: str
    message_th: str
    message_en: str
    second_factor: bool = False


@dataclass(frozen=True)
class MeetingState:
    conference_id: int | None = None
    title: str = ""
    identity_asked: bool = False  # the hub asked who is in the room
    identity_confirmed: bool = False  # the hub stored the clerk's list
    people: tuple[tuple[str, str], ...] = ()  # (name, position) as confirmed
    roll_call_id: int | None = None
    roll_call_deadline: datetime | None = None
    roll_call_answered: bool = False
    polls: tuple[PollItem, ...] = ()
    refused: Refused | None = None  # the last join the hub refused
    code_requested: bool = False
    message_th: str = ""  # the hub's answer to the last action
    message_en: str = ""
    message_ok: bool = True
    _pending_votes: tuple[tuple[int, str], ...] = field(default=(), repr=False)

    def with_(self, **changes: Any) -> MeetingState:
        return replace(self, **changes)

    def poll(self, poll_id: int) -> PollItem | None:
        return next((q for q in self.polls if q.poll_id == poll_id), None)

    def open_polls(self) -> list[PollItem]:
        return [q for q in self.polls if not q.closed]

    def roll_call_open(self, now: datetime) -> bool:
        return (self.roll_call_id is not None and not self.roll_call_answered
                and self.roll_call_deadline is not None and now < self.roll_call_deadline)

    def message(self, lang: str) -> str:
        return self.message_th if lang == "th" else self.message_en


def _epoch(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


MeetingSubscriber = Callable[[MeetingState], None]


class ClerkMeeting:
    """Installed on every agent (tray or headless) by :class:`~site_agent.clerk.service.ClerkAgent`."""

    def __init__(self, client: AgentClient) -> None:
        self.client = client
        self.state = MeetingState()
        self._subscribers: list[MeetingSubscriber] = []
        client.add_command_handler(p.IdentityPrompt, self._cmd_identity_prompt)
        client.add_command_handler(p.RollCallStart, self._cmd_roll_call)
        client.add_command_handler(p.PollOpen, self._cmd_poll_open)
        client.add_command_handler(p.PollClosed, self._cmd_poll_closed)
        client.add_command_handler(p.MeetingAnswer, self._cmd_answer)
        client.add_command_handler(p.JoinRefused, self._cmd_join_refused)
        client.add_command_observer(self._observe)
        client.add_listener(self._on_client_event)

    # --- state ----------------------------------------------------------------------------
    def subscribe(self, fn: MeetingSubscriber) -> None:
        self._subscribers.append(fn)

    def _set(self, **changes: Any) -> None:
        self.state = self.state.with_(**changes)
        for fn in list(self._subscribers):
            try:
                fn(self.state)
            except Exception:
                log.exception("meeting subscriber failed")

    def _for(self, conference_id: int | None) -> dict[str, Any]:
        """A command about another briefing than the one on screen starts afresh."""
        if conference_id is not None and conference_id != self.state.conference_id:
            return {"conference_id": conference_id, "identity_asked": False, "identity_confirmed": False,
                    "people": (), "roll_call_id": None, "roll_call_deadline": None, "roll_call_answered": False,
                    "polls": (), "refused": None, "code_requested": False, "_pending_votes": ()}
        return {}

    def _set_for(self, conference_id: int | None, **changes: Any) -> None:
        self._set(**{**self._for(conference_id), **changes})

    def _observe(self, command: p.HubCommand[Any]) -> None:
        if isinstance(command, p.JoinConference):
            self._set_for(command.conference_id, title=command.title, refused=None)
        elif isinstance(command, p.LeaveConference) and command.conference_id == self.state.conference_id:
            self._set(roll_call_id=None, roll_call_deadline=None,
                      polls=tuple(q for q in self.state.polls if q.closed))

    def _on_client_event(self, event: str, data: dict[str, Any]) -> None:
        if event == "disconnected" and self.state.conference_id is not None:
            self._set(roll_call_id=None, roll_call_deadline=None)

    # --- hub commands ---------------------------------------------------------------------
    async def _cmd_identity_prompt(self, c: p.IdentityPrompt) -> p.Done:
        people = tuple((x.name, x.position) for x in c.people)
        same = c.conference_id == self.state.conference_id
        self._set_for(c.conference_id, title=c.title or self.state.title, identity_asked=True,
                      people=people or (self.state.people if same else ()),
                      identity_confirmed=bool(people) or (same and self.state.identity_confirmed), refused=None)
        return p.Done()

    async def _cmd_roll_call(self, c: p.RollCallStart) -> p.Done:
        self._set_for(c.conference_id, roll_call_id=c.roll_call_id, roll_call_deadline=_epoch(c.deadline),
                  roll_call_answered=False,
                  message_th=f"ประธานขอให้ขานชื่อ ภายใน {c.seconds:.0f} วินาที",
                  message_en=f"The chair calls the roll: confirm within {c.seconds:.0f} s", message_ok=True)
        return p.Done()

    async def _cmd_poll_open(self, c: p.PollOpen) -> p.Done:
        item = PollItem(c.poll_id, c.question, tuple(c.options), c.ballot, c.unit, _epoch(c.closes_at),
                        tuple(c.people))
        base = self._for(c.conference_id)
        polls = base.get("polls", self.state.polls)
        kept = tuple(q for q in polls if q.poll_id != c.poll_id)
        old = self.state.poll(c.poll_id) if not base else None
        if old is not None:  # a re-sent poll keeps what this site already did
            item = replace(item, voted=old.voted)
        self._set(**{**base, "polls": (*kept, item), "message_th": f"มีการลงมติ: {c.question}",
                     "message_en": f"A vote is open: {c.question}", "message_ok": True})
        return p.Done()

    async def _cmd_poll_closed(self, c: p.PollClosed) -> p.Done:
        polls = tuple(replace(q, closed=True, counts=tuple(c.counts) or None) if q.poll_id == c.poll_id else q
                      for q in self.state.polls)
        self._set(polls=polls)
        return p.Done()

    async def _cmd_join_refused(self, c: p.JoinRefused) -> p.Done:
        self._set_for(c.conference_id,
                  refused=Refused(c.reason, c.message_th, c.message_en, c.second_factor),
                  message_th=c.message_th, message_en=c.message_en, message_ok=False)
        return p.Done()

    async def _cmd_answer(self, c: p.MeetingAnswer) -> p.Done:
        changes: dict[str, Any] = {"message_th": c.message_th, "message_en": c.message_en, "message_ok": c.ok}
        s = self.state
        if c.action == "identity" and c.ok:
            changes["identity_confirmed"] = True
        elif c.action == "rollcall" and (c.ok or c.reason == "roll_call_answered") and c.ref == s.roll_call_id:
            changes["roll_call_answered"] = True
        elif c.action == "vote" and c.ref is not None:
            pending = [v for v in s._pending_votes if v[0] == c.ref]
            if pending and (c.ok or c.reason == "double_vote"):
                key = pending[0][1]
                changes["polls"] = tuple(replace(q, voted=q.voted | {key}) if q.poll_id == c.ref else q
                                         for q in s.polls)
            if pending:  # answers come in the order the votes went: drop the first of this poll's
                rest = list(s._pending_votes)
                rest.remove(pending[0])
                changes["_pending_votes"] = tuple(rest)
            if c.reason == "poll_closed":
                changes["polls"] = tuple(replace(q, closed=True) if q.poll_id == c.ref else q
                                         for q in changes.get("polls", s.polls))
        elif c.action == "joincode" and c.ok and c.reason == "verified":
            changes["refused"] = None
        self._set(**changes)
        return p.Done()

    # --- the clerk's actions (the window's buttons) -----------------------------------------
    def _conference(self) -> int:
        if self.state.conference_id is None:
            raise MeetingError("ยังไม่มีการประชุม", "no briefing is running")
        return self.state.conference_id

    async def confirm_people(self, people: list[tuple[str, str]]) -> None:
        cleaned = [(" ".join(n.split()), " ".join(pos.split())) for n, pos in people]
        cleaned = [(n, pos) for n, pos in cleaned if n]
        if not cleaned:
            raise MeetingError("กรุณากรอกชื่ออย่างน้อยหนึ่งคน", "type at least one name")
        cid = self._conference()
        await self.client.send(p.IdentityReport(conference_id=cid, people=[
            p.PersonReport(name=n[:200], position=pos[:200]) for n, pos in cleaned[:30]]))
        self._set(people=tuple(cleaned[:30]), identity_confirmed=False)

    async def answer_roll_call(self) -> None:
        cid = self._conference()
        if self.state.roll_call_id is None:
            raise MeetingError("ไม่มีการขานชื่อ", "no roll call is running")
        await self.client.send(p.RollCallReply(conference_id=cid, roll_call_id=self.state.roll_call_id))

    async def vote(self, poll_id: int, option: int, person: str | None = None) -> None:
        cid = self._conference()
        item = self.state.poll(poll_id)
        if item is None:
            raise MeetingError("ไม่พบการลงมตินี้", "no such poll")
        key = (person or "") if item.unit == "person" else SITE_VOTE
        await self.client.send(p.VoteReport(conference_id=cid, poll_id=poll_id, option=option,
                                            person=person if item.unit == "person" else None))
        self._set(_pending_votes=(*self.state._pending_votes, (poll_id, key)))

    async def request_code(self) -> None:
        await self.client.send(p.JoinCodeReport(conference_id=self._conference(), action="request"))
        self._set(code_requested=True)

    async def verify_code(self, code: str) -> None:
        code = code.strip()
        if not code:
            raise MeetingError("กรุณากรอกรหัสจากอีเมล", "type the code from the e-mail")
        await self.client.send(p.JoinCodeReport(conference_id=self._conference(), action="verify", code=code[:16]))


class MeetingError(Exception):
    """A clerk's action that cannot be sent (no briefing, empty form); Thai and English."""

    def __init__(self, th: str, en: str) -> None:
        super().__init__(f"{th} / {en}")
        self.message_th, self.message_en = th, en
