"""Identity on the agents' control channel: the join gate, the clerk's window, roll calls.

Installed at startup on the conference manager and the agent registry:

* a **join gate** — a confidential (ลับ) briefing admits a district only after its
  one-time e-mailed code (``JoinRefused`` tells the agent why and that a code can be asked for);
* on every **join**, ``IdentityPrompt`` asks the clerk who is in the room (with what is on
  record), and a roll call still running reaches the late joiner too;
* the clerk's ``identity``, ``rollcall.answer`` and ``joincode`` reports, each answered with a
  ``meeting.answer`` (Thai and English), through the same :class:`IdentityService` as the API.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.conferences.manager import ConferenceManager, SiteConnection
from hub.conferences.signalling import send_quiet
from hub.control.registry import AgentRegistry
from hub.identity.model import IdentityRefused, Person, Refusal, RollCallState
from hub.identity.service import IdentityService
from site_agent import protocol as p

log = logging.getLogger("hub.identity.agents")

# Refusals the gate turns into a refused join; any other answer of check_join leaves the
# conference manager's own list of participants in charge.
GATE_REASONS = {Refusal.SECOND_FACTOR_REQUIRED, Refusal.CONFIDENTIAL_NO_GUESTS}


def answer(conference_id: int | None, action: Any, exc: IdentityRefused | None = None, *, ref: int | None = None,
           th: str = "", en: str = "", reason: str = "") -> p.MeetingAnswer:
    if exc is not None:
        return p.MeetingAnswer(conference_id=conference_id, action=action, ok=False, reason=exc.reason.value,
                               message_th=exc.message_th, message_en=exc.message_en, ref=ref)
    return p.MeetingAnswer(conference_id=conference_id, action=action, ok=True, reason=reason, message_th=th,
                           message_en=en, ref=ref)


class IdentityAgents:
    def __init__(self, identity: IdentityService, registry: AgentRegistry, conferences: ConferenceManager) -> None:
        self.identity = identity
        self.registry = registry
        self.conferences = conferences
        self._facts: dict[int, asyncio.Future[tuple[tuple[str, ...], bool]]] = {}

    def install(self) -> None:
        self.conferences.join_gates.append(self.gate)
        self.conferences.connection_listeners.append(self.on_connection)
        self.registry.add_message_handler("identity", self.on_identity)
        self.registry.add_message_handler("rollcall.answer", self.on_roll_call)
        self.registry.add_message_handler("joincode", self.on_join_code)

    def _ip(self, code: str) -> str:
        conn = self.registry.connections.get(code)
        return conn.remote if conn else ""

    async def _send(self, code: str, command: p.HubCommand[Any]) -> None:
        await send_quiet(self.registry, code, command)

    # --- the join path -------------------------------------------------------------------------
    async def _join_facts(self, conference_id: int) -> tuple[tuple[str, ...], bool]:
        """One read of the briefing's roster and confidentiality for the joins asking together.

        At T0 twenty districts reach the gate in the same instant; twenty identical
        reads, each a thread-pool hop and a transaction under the GIL, spread the joins
        over ~100 ms more (scripts/bench_schedule.py). Only reads already in flight are
        shared: nothing is cached past them.
        """
        pending = self._facts.get(conference_id)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self.identity.join_facts, conference_id))
            self._facts[conference_id] = pending
            pending.add_done_callback(lambda _: self._facts.pop(conference_id, None))
        return await asyncio.shield(pending)

    async def gate(self, conference_id: int, code: str) -> p.JoinRefused | None:
        try:
            facts = await self._join_facts(conference_id)
            if facts[1]:  # confidential: this district's own second factor is asked for
                await asyncio.to_thread(self.identity.check_join, conference_id, code, facts)
            else:
                self.identity.check_join(conference_id, code, facts)  # pure: no I/O without the flag
        except IdentityRefused as exc:
            if exc.reason not in GATE_REASONS:
                return None
            return p.JoinRefused(conference_id=conference_id, reason=exc.reason.value, message_th=exc.message_th,
                                 message_en=exc.message_en,
                                 second_factor=exc.reason is Refusal.SECOND_FACTOR_REQUIRED)
        return None

    async def on_connection(self, conn: SiteConnection) -> None:
        if conn.event != "joined":
            return
        rows = await asyncio.to_thread(self.identity.identities, conn.conference_id)
        roster = await asyncio.to_thread(self.identity.roster, conn.conference_id)
        people = [p.PersonWire(name=r.name, position=r.position) for r in rows if r.participant == conn.site]
        await self._send(conn.site, p.IdentityPrompt(conference_id=conn.conference_id, title=roster.title[:200],
                                                     people=people[-30:]))
        states = await asyncio.to_thread(self.identity.roll_call_states, conn.conference_id)
        for state in states:
            if state.open and conn.site in state.missing:
                await self._send(conn.site, self.roll_call_command(conn.conference_id, state))

    # --- roll calls: the chair starts one, every site in the briefing is asked --------------------
    @staticmethod
    def roll_call_command(conference_id: int, state: RollCallState) -> p.RollCallStart:
        deadline = state.deadline.timestamp() if state.deadline else 0.0
        return p.RollCallStart(conference_id=conference_id, roll_call_id=state.id, deadline=deadline,
                               seconds=max(1.0, min(3600.0, state.seconds_left)))

    async def push_roll_call(self, conference_id: int, state: RollCallState) -> None:
        command = self.roll_call_command(conference_id, state)
        await asyncio.gather(*(self._send(code, command) for code in state.missing
                               if self.registry.is_online(code)))

    # --- the clerk's reports ------------------------------------------------------------------------
    async def on_identity(self, code: str, msg: Any) -> None:
        assert isinstance(msg, p.IdentityReport)
        people = [Person(x.name, x.position) for x in msg.people]
        try:
            await asyncio.to_thread(self.identity.confirm_site, msg.conference_id, code, people, via="agent",
                                    actor=f"agent:{code}", ip=self._ip(code))
        except IdentityRefused as exc:
            await self._send(code, answer(msg.conference_id, "identity", exc))
            return
        await self._send(code, answer(msg.conference_id, "identity",
                                      th=f"บันทึกผู้เข้าประชุม {len(people)} คนแล้ว",
                                      en=f"{len(people)} people recorded as present"))

    async def on_roll_call(self, code: str, msg: Any) -> None:
        assert isinstance(msg, p.RollCallReply)
        try:
            await asyncio.to_thread(self.identity.answer_roll_call, msg.conference_id, msg.roll_call_id, code,
                                    actor=f"agent:{code}", ip=self._ip(code))
        except IdentityRefused as exc:
            await self._send(code, answer(msg.conference_id, "rollcall", exc, ref=msg.roll_call_id))
            return
        await self._send(code, answer(msg.conference_id, "rollcall", ref=msg.roll_call_id,
                                      th="ขานชื่อแล้ว จังหวัดได้รับแล้ว", en="Present: the province has it"))

    async def on_join_code(self, code: str, msg: Any) -> None:
        assert isinstance(msg, p.JoinCodeReport)
        cid, actor, ip = msg.conference_id, f"agent:{code}", self._ip(code)
        try:
            if msg.action == "request":
                sent_to = await asyncio.to_thread(self.identity.issue_join_code, cid, code, actor=actor, ip=ip)
                await self._send(code, answer(cid, "joincode", reason="sent",
                                              th=f"ส่งรหัสไปที่ {sent_to} แล้ว", en=f"The code was sent to {sent_to}"))
                return
            await asyncio.to_thread(self.identity.verify_join_code, cid, code, msg.code, actor=actor, ip=ip)
        except IdentityRefused as exc:
            await self._send(code, answer(cid, "joincode", exc))
            return
        await self._send(code, answer(cid, "joincode", reason="verified",
                                      th="ยืนยันรหัสแล้ว กำลังเข้าร่วมประชุม", en="Code accepted: joining the briefing"))
        self.conferences.admit(cid, code)
