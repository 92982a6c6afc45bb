"""Identity runtime: confirmations, roll calls, the confidential flag and one-time join codes.

Blocking (database) methods; the HTTP routes run them in a worker thread. Every
change is an audit event on ``conference:<id>`` (the evidence package collects
them), and a join code is mailed through the outbox in the same transaction
that stores its digest — the code itself is never stored, logged or audited.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from hub import audit
from hub.db import session_scope
from hub.identity import store
from hub.identity.model import (
    GUEST_PREFIX,
    IdentityRefused,
    Person,
    Refusal,
    RollCall,
    RollCallState,
    check_code,
    check_join,
    check_people,
    code_digest,
    code_expiry,
    code_from,
    is_guest,
)
from hub.mail.store import enqueue
from hub.models import utcnow

log = logging.getLogger("hub.identity")


def target(conference_id: int) -> str:
    return f"conference:{conference_id}"


def mask_email(addr: str) -> str:
    user, _, domain = addr.partition("@")
    return f"{user[:1]}***@{domain}" if domain else "***"


class IdentityService:
    def __init__(self, engine: sa.Engine, *, code_ttl_s: float = 600.0, code_attempts: int = 5,
                 clock: Callable[[], datetime] = utcnow, randbelow: Callable[[int], int] = secrets.randbelow,
                 on_mail: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.code_ttl_s = code_ttl_s
        self.code_attempts = code_attempts
        self.clock = clock
        self.randbelow = randbelow
        self.on_mail = on_mail  # wakes the outbox, when the app has one

    # --- the roster -----------------------------------------------------------------------------
    def roster(self, conference_id: int) -> store.Roster:
        with session_scope(self.engine) as s:
            found = store.roster(s, conference_id)
        if found is None:
            raise IdentityRefused(Refusal.UNKNOWN_BRIEFING, str(conference_id))
        return found

    # --- who is in the room -------------------------------------------------------------------
    def confirm_site(self, conference_id: int, site: str, people: list[Person], *, via: str, actor: str,
                     ip: str = "", roll_call_id: int | None = None) -> list[store.IdentityRecord]:
        """A district's clerk says who is in the room (several people)."""
        people = check_people(people)
        if site not in self.roster(conference_id).sites:
            raise IdentityRefused(Refusal.NOT_IN_BRIEFING, site)
        at = self.clock()
        with session_scope(self.engine) as s:
            rows = store.add_identities(s, conference_id, site, people, at, via, roll_call_id)
        audit.record(self.engine, actor=actor, action="identity.confirmed", target=target(conference_id), ip=ip,
                     at=at, detail={"participant": site, "people": [[p.name, p.position] for p in people],
                                    "via": via})
        return rows

    def register_guest(self, conference_id: int, person: Person, *, via: str, actor: str, ip: str = "",
                       key: str | None = None) -> str:
        """A guest gives name and organisation (the join page, phase 2); returns the guest's key.

        ``key`` (``guest:…``): the guests room names its browsers itself, so a rejoin keeps one key."""
        person = person.cleaned()
        self.roster(conference_id)
        at = self.clock()
        with session_scope(self.engine) as s:
            if store.is_confidential(s, conference_id):
                raise IdentityRefused(Refusal.CONFIDENTIAL_NO_GUESTS)
            if key is None or not is_guest(key):
                key = f"{GUEST_PREFIX}{store.next_guest_number(s, conference_id)}"
            store.add_identities(s, conference_id, key, [person], at, via)
        audit.record(self.engine, actor=actor, action="identity.guest", target=target(conference_id), ip=ip, at=at,
                     detail={"participant": key, "name": person.name, "organisation": person.organisation})
        return key

    def identities(self, conference_id: int) -> list[store.IdentityRecord]:
        with session_scope(self.engine) as s:
            return store.identities(s, conference_id)

    def identified_people(self, conference_id: int, participant: str) -> set[str]:
        """Names confirmed for a participant: who may vote "per person"."""
        return {r.name for r in self.identities(conference_id) if r.participant == participant}

    # --- roll call ------------------------------------------------------------------------------
    def start_roll_call(self, conference_id: int, seconds: float, *, actor: str, ip: str = "") -> RollCallState:
        r = self.roster(conference_id)
        now = self.clock()
        with session_scope(self.engine) as s:
            for call in store.roll_calls(s, conference_id):
                if call.is_open(now):
                    raise IdentityRefused(Refusal.ROLL_CALL_RUNNING)
            rec = store.RollCallRecord(conference_id=conference_id, started_at=now,
                                       deadline=now + timedelta(seconds=seconds), started_by=actor[:100],
                                       expected=[*r.sites, *r.guests])
            s.add(rec)
            s.flush()
            assert rec.id is not None
            rid = rec.id
        audit.record(self.engine, actor=actor, action="rollcall.started", target=target(conference_id), ip=ip,
                     at=now, detail={"roll_call": rid, "seconds": seconds, "expected": [*r.sites, *r.guests]})
        return self.roll_call_state(conference_id, rid)

    def answer_roll_call(self, conference_id: int, roll_call_id: int, participant: str, *, actor: str,
                         ip: str = "", people: list[Person] | None = None) -> RollCallState:
        now = self.clock()
        with session_scope(self.engine) as s:
            found = store.load_roll_call(s, roll_call_id)
            if found is None or found[0].conference_id != conference_id:
                raise IdentityRefused(Refusal.NO_ROLL_CALL, str(roll_call_id))
            _, call = found
            call.confirm(participant, now)
            s.add(store.RollCallAnswer(roll_call_id=roll_call_id, participant=participant, answered_at=now,
                                       by=actor[:100]))
        audit.record(self.engine, actor=actor, action="rollcall.answered", target=target(conference_id), ip=ip,
                     at=now, detail={"roll_call": roll_call_id, "participant": participant})
        if people and not is_guest(participant):
            self.confirm_site(conference_id, participant, people, via="roll_call", actor=actor, ip=ip,
                              roll_call_id=roll_call_id)
        return self.roll_call_state(conference_id, roll_call_id)

    def roll_call_state(self, conference_id: int, roll_call_id: int | None = None) -> RollCallState:
        with session_scope(self.engine) as s:
            calls = store.roll_calls(s, conference_id)
        if roll_call_id is not None:
            calls = [c for c in calls if c.id == roll_call_id]
        if not calls:
            raise IdentityRefused(Refusal.NO_ROLL_CALL)
        return calls[-1].state(self.clock())

    def roll_calls(self, conference_id: int) -> list[RollCall]:
        with session_scope(self.engine) as s:
            return store.roll_calls(s, conference_id)

    def roll_call_states(self, conference_id: int) -> list[RollCallState]:
        now = self.clock()
        with session_scope(self.engine) as s:
            return [c.state(now) for c in store.roll_calls(s, conference_id)]

    # --- confidential briefings ----------------------------------------------------------------
    def set_confidential(self, conference_id: int, on: bool, *, actor: str, ip: str = "") -> None:
        self.roster(conference_id)
        at = self.clock()
        with session_scope(self.engine) as s:
            row = s.get(store.BriefingSecurity, conference_id) or store.BriefingSecurity(conference_id=conference_id)
            row.confidential, row.set_at, row.set_by = on, at, actor[:100]
            s.add(row)
        audit.record(self.engine, actor=actor, action="briefing.confidential", target=target(conference_id),
                     ip=ip, at=at, detail={"confidential": on})

    def is_confidential(self, conference_id: int) -> bool:
        """The recording room asks this before it records anything (a ลับ briefing is never recorded)."""
        with session_scope(self.engine) as s:
            return store.is_confidential(s, conference_id)

    def issue_join_code(self, conference_id: int, site: str, *, actor: str, ip: str = "") -> str:
        """Mail a one-time code to the district's registered contact; returns the masked address."""
        if site not in self.roster(conference_id).sites:
            raise IdentityRefused(Refusal.NOT_IN_BRIEFING, site)
        now = self.clock()
        code = code_from(self.randbelow(10**6))
        salt = secrets.token_bytes(16)
        with session_scope(self.engine) as s:
            contact = store.site_contact(s, site)
            if contact is None or not contact.contact_email:
                raise IdentityRefused(Refusal.NO_CONTACT, site)
            r = store.roster(s, conference_id)
            title = r.title if r else ""
            minutes = int(self.code_ttl_s // 60)
            enqueue(
                s, kind="join_code", to_addr=contact.contact_email, to_name=contact.contact_name,
                subject=f"รหัสเข้าร่วมการประชุมลับ / confidential briefing join code: {title}",
                text=(f"รหัสเข้าร่วม {code} (ใช้ได้ครั้งเดียว ภายใน {minutes} นาที) สำหรับ {contact.name_th}\n"
                      f"Join code {code} (one-time, {minutes} min) for {contact.name_en}: {title}\n"),
                html=(f"<p>รหัสเข้าร่วม <b>{code}</b> (ใช้ได้ครั้งเดียว ภายใน {minutes} นาที)</p>"
                      f"<p>Join code <b>{code}</b> (one-time, {minutes} min)</p>"),
                ics="", ics_method="", site_code=site,
            )
            s.add(store.JoinCode(conference_id=conference_id, site_code=site, digest=code_digest(salt, code),
                                 salt=salt.hex(), issued_at=now, expires_at=code_expiry(now, self.code_ttl_s),
                                 sent_to=contact.contact_email))
            masked = mask_email(contact.contact_email)
        audit.record(self.engine, actor=actor, action="joincode.issued", target=target(conference_id), ip=ip,
                     at=now, detail={"site": site, "sent_to": masked})
        if self.on_mail is not None:
            self.on_mail()
        return masked

    def verify_join_code(self, conference_id: int, site: str, code: str, *, actor: str, ip: str = "") -> None:
        now = self.clock()
        refused: IdentityRefused | None = None
        with session_scope(self.engine) as s:
            row = store.latest_code(s, conference_id, site)
            try:
                check_code(store.as_issued(row) if row else None, code, now, self.code_attempts)
            except IdentityRefused as exc:
                refused = exc
            if row is not None:
                row.attempts += 1
                if refused is None:
                    row.used_at = now
                s.add(row)
        audit.record(self.engine, actor=actor, action="joincode.verified" if refused is None else "joincode.refused",
                     target=target(conference_id), ok=refused is None, ip=ip, at=now,
                     detail={"site": site, **({"reason": refused.reason.value} if refused else {})})
        if refused is not None:
            raise refused

    def join_facts(self, conference_id: int) -> tuple[tuple[str, ...], bool]:
        """(the districts in the briefing, confidential?): what every join of it asks first."""
        with session_scope(self.engine) as s:
            sites = store.roster_sites(s, conference_id)
            confidential = sites is not None and store.is_confidential(s, conference_id)
        if sites is None:
            raise IdentityRefused(Refusal.UNKNOWN_BRIEFING, str(conference_id))
        return sites, confidential

    def check_join(self, conference_id: int, participant: str,
                   facts: tuple[tuple[str, ...], bool] | None = None) -> None:
        """The join path (phase 2: the agent's join, the guest page) calls this before admitting anyone.

        ``facts`` from :meth:`join_facts`, when the caller already has them for this briefing.
        """
        sites, confidential = facts if facts is not None else self.join_facts(conference_id)
        verified = False
        if confidential and not is_guest(participant):
            with session_scope(self.engine) as s:
                verified = store.code_verified(s, conference_id, participant)
        check_join(participant, set(sites), confidential, verified)
