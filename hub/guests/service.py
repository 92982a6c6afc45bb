"""The guests room at run time: links, the passcode, the lobby, the chair's actions, the
guest's status (long poll) and the hand-over of a validated offer to the media side.

Database work runs in a thread (``asyncio.to_thread``); every decision is made by
:mod:`hub.guests.model` with the time passed in.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import logging
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from hub import audit
from hub.briefings.invitations import Person, Recipient, compose
from hub.briefings.model import TERMINAL, SeriesSpec, format_thai_date, spec_from_json
from hub.briefings.store import BriefingOccurrence, BriefingSeries
from hub.events import EventBus
from hub.guests import model as m
from hub.guests import store
from hub.guests.media import GuestMedia, GuestPeer, MediaAnswer, MediaUnavailable
from hub.guests.sdp import ValidatedOffer, validate_offer
from hub.identity.agents import GATE_REASONS
from hub.identity.model import GUEST_PREFIX, IdentityRefused
from hub.identity.model import Person as IdentityPerson
from hub.identity.service import IdentityService
from hub.mail.store import enqueue
from hub.models import Site, utcnow
from hub.polls.model import Ballot, PollRefused, Voter
from hub.polls.model import Refusal as PollReason
from hub.polls.service import PollService
from hub.settings import Settings

log = logging.getLogger("hub.guests")

# Argon2id at OWASP's minimum (19 MiB, 2 passes): a six-digit passcode is guarded by the attempt
# limits, not by the hash's cost, and every guest's join waits for one verification (the library's
# default, 64 MiB and 3 passes, took 0.5 s a join on a busy 2-core hub). Older hashes carry their
# own parameters and still verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Briefing:
    """One occurrence as the guests room sees it."""

    occurrence_id: int
    series_id: int
    key: date
    title: str
    start: datetime
    end: datetime
    over: bool  # ended, missed or cancelled
    conference_id: int | None
    spec: SeriesSpec


@dataclass(frozen=True)
class Arrival:
    """A valid link for an occurrence: what the join page and the join request start from."""

    briefing: Briefing
    binding: m.LinkBinding
    district_th: str  # the district's Thai name for a district link
    window: m.JoinWindow


@dataclass
class _Watch:
    event: asyncio.Event = field(default_factory=asyncio.Event)


class GuestService:
    def __init__(self, engine: sa.Engine, settings: Settings, secret: bytes, events: EventBus) -> None:
        self.engine = engine
        self.settings = settings
        # A key of its own, derived from the hub's secret, so guest tokens and cookies never share one.
        self._key = hmac.new(secret, b"salaklang guest access links", hashlib.sha256).digest()
        self.events = events
        self.media: GuestMedia | None = None
        self._watches: dict[int, _Watch] = {}
        # series id → (stored hash, the series' passcode) known to match: a join verifies once, not twice
        self._current: dict[int, tuple[str, str]] = {}
        # The identity and polls rooms (set up after this one; attached at startup).
        self.identity: IdentityService | None = None
        self.polls: PollService | None = None
        self._polls_gen = 0  # bumped on every poll change: the page's long poll sees it

    def attach_meeting(self, identity: IdentityService, polls: PollService) -> None:
        """The join gate, the guest's identity record and the votes go through these rooms."""
        self.identity = identity
        self.polls = polls
        polls.listeners.append(self._poll_changed)

    async def _poll_changed(self, conference_id: int, poll_id: int, change: str) -> None:
        self._polls_gen += 1
        for guest_id in list(self._watches):
            self.notify(guest_id)

    def attach_media(self, media: GuestMedia) -> None:
        """The media side registers its implementation here (hub.guests.setup, at startup)."""
        self.media = media

    def notify(self, guest_id: int) -> None:
        """The guest's media view changed (floor, microphone, profile): wake its page's poll."""
        watch = self._watches.pop(guest_id, None)
        if watch is not None:
            watch.event.set()

    def status(self, guest: store.Guest) -> dict[str, Any]:
        """What the guest's page polls: its row and, once connected, its view of the conference."""
        view = self.media.view(guest.id) if self.media is not None and guest.id is not None else None
        out = guest_json(guest)
        out["media"] = view
        out["version"] = self.status_version(guest, view)
        return out

    def status_version(self, guest: store.Guest, view: dict[str, Any] | None = None) -> str:
        if view is None and self.media is not None and guest.id is not None:
            view = self.media.view(guest.id)
        if view is None:
            return f"{version(guest)}p{self._polls_gen}"
        return f"{version(guest)}p{self._polls_gen}{zlib.crc32(repr(sorted(view.items())).encode()):010d}"

    # --- policy values ---------------------------------------------------------------

    @property
    def lead(self) -> timedelta:
        return timedelta(minutes=self.settings.guests_join_lead_min)

    @property
    def attempts(self) -> m.AttemptPolicy:
        s = self.settings
        return m.AttemptPolicy(s.guests_attempts_per_address, s.guests_attempts_per_briefing,
                               timedelta(seconds=s.guests_attempt_window_s))

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- links -----------------------------------------------------------------------

    def token(self, occurrence_id: int, kind: m.LinkKind, site_code: str, generation: int) -> str:
        """Derived, not stored: the letter for an update repeats the link of the first one."""
        msg = f"{occurrence_id}|{kind.value}|{site_code}|{generation}".encode()
        return base64.urlsafe_b64encode(hmac.new(self._key, msg, hashlib.sha256).digest()[:18]).decode()

    def url(self, occurrence_id: int, kind: m.LinkKind, site_code: str, token: str) -> str:
        base = self.settings.effective_public_url
        if kind is m.LinkKind.DISTRICT:
            return f"{base}/briefings/{occurrence_id}/district/{site_code}?k={token}"
        return f"{base}/briefings/{occurrence_id}?k={token}"

    def _ensure_links(self, s: Session, occ: BriefingOccurrence, districts: Sequence[str]) -> list[store.GuestLink]:
        assert occ.id is not None
        have = {(link.kind, link.site_code): link for link in store.links_of(s, [occ.id])}
        wanted = [(m.LinkKind.GUEST, "")] + [(m.LinkKind.DISTRICT, c) for c in districts]
        for kind, code in wanted:
            if (kind.value, code) not in have:
                row = store.GuestLink(occurrence_id=occ.id, kind=kind.value, site_code=code,
                                      token_hash=sha256_hex(self.token(occ.id, kind, code, 0)))
                s.add(row)
                have[(kind.value, code)] = row
        return list(have.values())

    def _ensure_passcode(self, s: Session, series: BriefingSeries) -> None:
        # The briefing issues the passcode (it is printed in every letter); the guests room
        # keeps its own argon2 hash and checks against that alone.
        assert series.id is not None
        row = store.passcode_of(s, series.id)
        if row is None:
            s.add(store.GuestPasscode(series_id=series.id, passcode_hash=_hasher.hash(series.passcode)))
        elif self._current.get(series.id) == (row.passcode_hash, series.passcode):
            return
        elif not _verify(row.passcode_hash, series.passcode):
            row.passcode_hash = _hasher.hash(series.passcode)
            row.updated_at = utcnow()
            s.add(row)
        else:
            self._current[series.id] = (row.passcode_hash, series.passcode)

    def links_for_series(self, series_id: int, session: Session | None = None) -> dict[str, dict[date, str]]:
        """``{"": {key: guest url}, "UDN02": {key: district url}, …}`` for every live occurrence:
        what :func:`hub.briefings.invitations.compose` takes as ``links``.

        With ``session`` it works inside the caller's transaction (the briefing's mailing holds
        the write lock on SQLite, so a second connection would wait for it) and does not commit.
        """
        if session is not None:
            return self._links(session, series_id)
        with self._session() as s:
            out = self._links(s, series_id)
            s.commit()
            return out

    def _links(self, s: Session, series_id: int) -> dict[str, dict[date, str]]:
        series = s.get(BriefingSeries, series_id)
        if series is None:
            raise m.Refusal("not_found", f"ไม่พบชุดการประชุม {series_id}", f"no series {series_id}", 404)
        spec = spec_from_json(series.spec)
        self._ensure_passcode(s, series)
        occs = s.exec(select(BriefingOccurrence).where(BriefingOccurrence.series_id == series_id)
                      .order_by(col(BriefingOccurrence.starts_at))).all()
        out: dict[str, dict[date, str]] = {"": {}}
        for occ in occs:
            if occ.state == "cancelled" or occ.id is None:
                continue
            for link in self._ensure_links(s, occ, spec.districts):
                kind = m.LinkKind(link.kind)
                tok = self.token(occ.id, kind, link.site_code, link.generation)
                out.setdefault(link.site_code, {})[occ.key_date] = self.url(occ.id, kind, link.site_code, tok)
        s.flush()
        return out

    # --- arriving with a link -------------------------------------------------------------

    def _briefing(self, s: Session, occurrence_id: int) -> Briefing:
        occ = s.get(BriefingOccurrence, occurrence_id)
        series = s.get(BriefingSeries, occ.series_id) if occ is not None else None
        if occ is None or series is None or occ.id is None or series.id is None:
            raise m.bad_link()
        return Briefing(
            occurrence_id=occ.id, series_id=series.id, key=occ.key_date, title=series.title,
            start=_aware(occ.starts_at), end=_aware(occ.ends_at), over=occ.state in {t.value for t in TERMINAL},
            conference_id=occ.conference_id, spec=spec_from_json(series.spec),
        )

    def _arrive(self, s: Session, occurrence_id: int, token: str, site_code: str) -> Arrival:
        link = store.link_by_hash(s, sha256_hex(token)) if token else None
        binding = None
        if link is not None:
            binding = m.LinkBinding(link.occurrence_id, m.LinkKind(link.kind), link.site_code)
        m.check_binding(binding, occurrence_id, site_code)
        assert binding is not None
        briefing = self._briefing(s, occurrence_id)
        district_th = ""
        if site_code:
            site = s.exec(select(Site).where(Site.code == site_code)).first()
            if site is None or site_code not in briefing.spec.districts:
                raise m.bad_link()
            district_th = site.name_th
        window = m.join_window(briefing.start, briefing.end, self.lead)
        return Arrival(briefing, binding, district_th, window)

    def arrive(self, occurrence_id: int, token: str, site_code: str) -> Arrival:
        with self._session() as s:
            return self._arrive(s, occurrence_id, token, site_code)

    def seat_guest(self, seat: str) -> store.Guest | None:
        if not seat:
            return None
        with self._session() as s:
            return store.guest_by_seat(s, sha256_hex(seat))

    # --- joining ----------------------------------------------------------------------------

    async def join(
        self,
        *,
        occurrence_id: int,
        token: str,
        site_code: str,
        passcode: str,
        passcode_ok: bool,
        name: str,
        organisation: str,
        seat: str,
        ip: str,
        now: datetime,
    ) -> tuple[store.Guest, bool]:
        """Returns (guest, passcode accepted now). Raises :class:`Refusal`."""
        arrival = await asyncio.to_thread(self.arrive, occurrence_id, token, site_code)
        refusal = m.window_refusal(arrival.window.state(now, over=arrival.briefing.over), arrival.window,
                                   self.settings.timezone)
        if refusal is not None:
            raise refusal
        previous = await asyncio.to_thread(self.seat_guest, seat)
        if previous is not None and previous.occurrence_id != occurrence_id:
            previous = None
        if previous is not None and previous.status == m.GuestStatus.REMOVED.value:
            raise m.removed()
        accepted_now = False
        if not passcode_ok:
            await self._check_passcode(arrival.briefing, passcode, ip, now)
            accepted_now = True
        if arrival.binding.kind is m.LinkKind.DISTRICT:
            label = f"อำเภอ{arrival.district_th}"
            identity = m.Identity(label, f"{label} (เบราว์เซอร์)")
        else:
            identity = m.parse_identity(name, organisation)
        gate_key = arrival.binding.site_code if arrival.binding.kind is m.LinkKind.DISTRICT else GUEST_PREFIX
        await self._gate(arrival.briefing.conference_id, gate_key, occurrence_id, ip)
        guest = await asyncio.to_thread(self._seat, arrival, identity, previous, seat, ip, now)
        await asyncio.to_thread(self.register_identity, guest, ip)
        await audit.arecord(
            self.engine, actor=f"guest:{guest.id}", action="guests.join", target=f"occurrence:{occurrence_id}",
            ip=ip, detail={"kind": guest.kind, "site": guest.site_code, "name": guest.name,
                           "organisation": guest.organisation, "status": guest.status},
        )
        self._changed(guest)
        return guest, accepted_now

    # --- the identity room: the join gate and the guest's identity record (issue 16) ----------------

    async def _gate(self, conference_id: int | None, participant: str, occurrence_id: int, ip: str) -> None:
        """A confidential (ลับ) briefing refuses guests, and a browser district without its
        one-time code; refused here, audited, before any seat is taken. Before the conference
        exists nothing can be confidential yet: the offer (the conference is live) asks again."""
        if conference_id is None:
            return
        assert self.identity is not None
        try:
            await asyncio.to_thread(self.identity.check_join, conference_id, participant)
        except IdentityRefused as exc:
            if exc.reason not in GATE_REASONS:
                return  # who is in the conference is the conference manager's to say
            await audit.arecord(self.engine, actor="guest", action="guests.join.refused",
                                target=f"occurrence:{occurrence_id}", ok=False, ip=ip,
                                detail={"reason": exc.reason.value, "participant": participant or "guest"})
            raise m.Refusal(exc.reason.value, exc.message_th, exc.message_en, 403) from exc

    def register_identity(self, guest: store.Guest, ip: str) -> None:
        """The guest's name and organisation on the identity room's record, with its time (the
        evidence package lists it); once per name and organisation, not at every page load."""
        cid = self.conference_of(guest.occurrence_id)
        if cid is None or guest.kind != m.LinkKind.GUEST.value or guest.id is None:
            return
        assert self.identity is not None
        key = participant_key(guest)
        if any(r.participant == key and r.name == guest.name and r.organisation == guest.organisation
               for r in self.identity.identities(cid)):
            return
        self.identity.register_guest(cid, IdentityPerson(guest.name, organisation=guest.organisation),
                                     via="guest_page", actor=f"guest:{guest.id}", ip=ip, key=key)

    def conference_of(self, occurrence_id: int) -> int | None:
        with self._session() as s:
            occ = s.get(BriefingOccurrence, occurrence_id)
            return occ.conference_id if occ is not None else None

    # --- polls: the open polls on the page, and the guest's vote (issue 16) ------------------------

    def open_polls(self, guest: store.Guest) -> list[dict[str, Any]]:
        """The briefing's open polls as the page shows them, and whether this browser voted.
        Never a tally of an open secret ballot (the polls room does not give one)."""
        if self.polls is None or guest.status != m.GuestStatus.ADMITTED.value:
            return []
        cid = self.conference_of(guest.occurrence_id)
        if cid is None:
            return []
        key = participant_key(guest)
        out: list[dict[str, Any]] = []
        for v in self.polls.polls(cid):
            if not v.open:
                continue
            spec = v.poll.spec
            out.append({
                "id": v.poll.id, "question": spec.question, "options": list(spec.options),
                "ballot": spec.ballot.value, "secret": spec.ballot is Ballot.SECRET, "unit": spec.unit.value,
                "closes_at": spec.closes_at.isoformat() if spec.closes_at else None,
                "voted": any(x == key or x.startswith(f"{key}/") for x in v.voters),
            })
        return out

    async def full_status(self, guest: store.Guest) -> dict[str, Any]:
        out = self.status(guest)
        out["polls"] = await asyncio.to_thread(self.open_polls, guest)
        return out

    async def vote(self, seat: str, poll_id: int, option: int, ip: str) -> store.Guest:
        """One vote through the polls room's own vote (one per guest; a secret ballot keeps no
        voter→choice link there). Nothing of the choice is logged or audited here."""
        guest = await asyncio.to_thread(self.seat_guest, seat)
        if guest is None or guest.id is None:
            raise m.Refusal("no_seat", "ยังไม่ได้เข้าร่วมการประชุม", "You have not joined this briefing", 401)
        if guest.status != m.GuestStatus.ADMITTED.value:
            raise m.Refusal("not_admitted", "ยังไม่ได้รับอนุญาตให้เข้าร่วม", "You have not been admitted yet", 409)
        cid = await asyncio.to_thread(self.conference_of, guest.occurrence_id)
        if cid is None:
            raise m.Refusal(PollReason.UNKNOWN_POLL.value, "ไม่พบการลงมตินี้ในการประชุม",
                            "no such poll in this briefing", 404, "poll")
        assert self.polls is not None
        await self._gate(cid, participant_key(guest), guest.occurrence_id, ip)
        await asyncio.to_thread(self.register_identity, guest, ip)
        # A guest is one voter: itself (its key) and, for a per-person poll, its confirmed name.
        voter = Voter(participant_key(guest), guest.name if guest.kind == m.LinkKind.GUEST.value else None)
        try:
            await self.polls.avote(cid, poll_id, voter, option, actor=f"guest:{guest.id}", ip=ip)
        except PollRefused as exc:
            raise m.Refusal(exc.reason.value, exc.message_th, exc.message_en, POLL_STATUS.get(exc.reason, 409),
                            "option" if exc.reason is PollReason.BAD_OPTION else "poll") from exc
        return guest

    async def _check_passcode(self, briefing: Briefing, passcode: str, ip: str, now: datetime) -> None:
        def check() -> m.Refusal | None:
            with self._session() as s:
                mine, everyone = store.failures_since(s, briefing.occurrence_id, ip, now - self.attempts.window)
                limited = m.attempt_refusal(mine, everyone, now, self.attempts)
                if limited is not None:
                    return limited
                series = s.get(BriefingSeries, briefing.series_id)
                assert series is not None
                self._ensure_passcode(s, series)
                s.flush()
                row = store.passcode_of(s, briefing.series_id)
                assert row is not None
                ok = _verify(row.passcode_hash, m.normalize_passcode(passcode))
                s.add(store.GuestAttempt(occurrence_id=briefing.occurrence_id, ip=ip[:64], at=now, ok=ok))
                s.commit()
                return None if ok else m.wrong_passcode()

        refusal = await asyncio.to_thread(check)
        target = f"occurrence:{briefing.occurrence_id}"
        if refusal is None:
            await audit.arecord(self.engine, actor="guest", action="guests.passcode.ok", target=target, ip=ip)
            return
        action = "guests.passcode.limited" if refusal.code == "too_many_attempts" else "guests.passcode.refused"
        await audit.arecord(self.engine, actor="guest", action=action, target=target, ok=False, ip=ip)
        raise refusal

    def _seat(self, arrival: Arrival, identity: m.Identity, previous: store.Guest | None, seat: str,
              ip: str, now: datetime) -> store.Guest:
        b = arrival.briefing
        kind = arrival.binding.kind
        with self._session() as s:
            if kind is m.LinkKind.GUEST and store.removed_identity(s, b.occurrence_id, identity.key):
                raise m.removed()
            policy = store.policy_of(s, b.series_id)
            admit = policy.admit_directly if policy is not None else self.settings.guests_admit_directly
            prev_status = m.GuestStatus(previous.status) if previous is not None else None
            status = m.status_on_join(prev_status, kind=kind, admit_directly=admit,
                                      closed=store.is_closed(s, b.occurrence_id))
            if kind is m.LinkKind.DISTRICT:
                # One browser per district: the notebook set up again takes over from the last one.
                for other in store.guests_of(s, b.occurrence_id):
                    if (other.site_code == arrival.binding.site_code and other.status == m.GuestStatus.ADMITTED.value
                            and (previous is None or other.id != previous.id)):
                        _apply(other, m.LobbyEvent.LEAVE, now, "replaced")
                        s.add(other)
            row = s.get(store.Guest, previous.id) if previous is not None else None
            if row is None:
                row = store.Guest(occurrence_id=b.occurrence_id, kind=kind.value, site_code=arrival.binding.site_code,
                                  name=identity.name, organisation=identity.organisation, identity_key=identity.key,
                                  status=status.value, seat_hash=sha256_hex(seat), ip=ip[:64],
                                  may_unmute=kind is m.LinkKind.DISTRICT)
            else:
                row.name, row.organisation, row.identity_key = identity.name, identity.organisation, identity.key
                row.status = status.value
            if status is m.GuestStatus.ADMITTED:
                row.intervals = _dump(m.open_interval(_load(row.intervals), now))
            row.updated_at = now
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    # --- the guest's own page ------------------------------------------------------------------

    def _changed(self, guest: store.Guest) -> None:
        assert guest.id is not None
        watch = self._watches.pop(guest.id, None)
        if watch is not None:
            watch.event.set()
        self.events.publish("guests", {"occurrence_id": guest.occurrence_id, "guest": guest_json(guest)})

    async def wait_status(self, seat: str, since: str, timeout: float) -> store.Guest | None:
        """The guest's row once its version differs from ``since`` (or at ``timeout``)."""
        guest = await asyncio.to_thread(self.seat_guest, seat)
        if guest is None or guest.id is None or self.status_version(guest) != since or timeout <= 0:
            return guest
        watch = self._watches.setdefault(guest.id, _Watch())
        try:
            await asyncio.wait_for(watch.event.wait(), timeout)
        except TimeoutError:
            pass
        return await asyncio.to_thread(self.seat_guest, seat)

    async def own_action(self, seat: str, action: str, now: datetime, *, raised: bool = False) -> store.Guest:
        def write() -> store.Guest:
            with self._session() as s:
                row = store.guest_by_seat(s, sha256_hex(seat)) if seat else None
                if row is None:
                    raise m.Refusal("no_seat", "ยังไม่ได้เข้าร่วมการประชุม", "You have not joined this briefing", 401)
                if action == "leave":
                    _apply(row, m.LobbyEvent.LEAVE, now, "left")
                    row.hand_raised = False
                elif action == "hand":
                    if row.status != m.GuestStatus.ADMITTED.value:
                        raise m.Refusal("not_admitted", "ยังไม่ได้รับอนุญาตให้เข้าร่วม", "You have not been admitted yet", 409)
                    row.hand_raised = raised
                row.updated_at = now
                s.add(row)
                s.commit()
                s.refresh(row)
                return row

        row = await asyncio.to_thread(write)
        self._changed(row)
        if action == "leave" and self.media is not None and row.id is not None:
            await self.media.disconnect(row.id, "left")
        elif action == "hand" and self.media is not None:
            await self.media.update(await asyncio.to_thread(self._peer, row))
        return row

    async def briefing_ended(self, guest_id: int) -> None:
        """The conference ended with this browser in: its interval closes ("ended")."""
        now = utcnow()

        def write() -> store.Guest | None:
            with self._session() as s:
                row = s.get(store.Guest, guest_id)
                if row is None or row.status != m.GuestStatus.ADMITTED.value:
                    return None
                _apply(row, m.LobbyEvent.LEAVE, now, "ended")
                row.hand_raised = False
                row.updated_at = now
                s.add(row)
                s.commit()
                s.refresh(row)
                return row

        row = await asyncio.to_thread(write)
        if row is not None:
            self._changed(row)

    async def own_microphone(self, seat: str, open_: bool) -> store.Guest:
        """The guest opens or closes its microphone in the mix: allowed by the chair
        (``may_unmute``, a district by default) or while it holds the floor."""
        guest = await asyncio.to_thread(self.seat_guest, seat)
        if guest is None or guest.id is None:
            raise m.Refusal("no_seat", "ยังไม่ได้เข้าร่วมการประชุม", "You have not joined this briefing", 401)
        if guest.status != m.GuestStatus.ADMITTED.value:
            raise m.Refusal("not_admitted", "ยังไม่ได้รับอนุญาตให้เข้าร่วม", "You have not been admitted yet", 409)
        view = self.media.view(guest.id) if self.media is not None else None
        if open_ and not (guest.may_unmute or (view is not None and view.get("holder"))):
            raise m.Refusal("mic_not_allowed", "ผู้ดำเนินการประชุมยังไม่อนุญาตให้เปิดไมโครโฟน",
                            "The chair has not allowed your microphone", 403)
        if view is not None and self.media is not None:  # not connected yet: only the page's own switch
            await self.media.microphone(guest.id, open_)
        return guest

    async def offer(self, seat: str, sdp: str, ip: str = "", user_agent: str = "") -> MediaAnswer:
        """Validate the offer, then hand it to the media side. Raises :class:`Refusal`."""
        validated = validate_offer(sdp, self.settings.guests_sdp_max_bytes)
        guest = await asyncio.to_thread(self.seat_guest, seat)
        if guest is None or guest.id is None:
            raise m.Refusal("no_seat", "ยังไม่ได้เข้าร่วมการประชุม", "You have not joined this briefing", 401)
        if guest.status != m.GuestStatus.ADMITTED.value:
            raise m.Refusal("not_admitted", "ยังไม่ได้รับอนุญาตให้เข้าร่วม", "You have not been admitted yet", 409)
        peer = await asyncio.to_thread(self._peer, guest)
        # The conference is live now: the confidential gate and the identity record, if the guest
        # joined before it existed.
        await self._gate(peer.conference_id, participant_key(guest) if guest.kind == m.LinkKind.GUEST.value
                         else guest.site_code, guest.occurrence_id, ip)
        await asyncio.to_thread(self.register_identity, guest, ip)
        peer = dataclasses.replace(peer, source_addr=ip or guest.ip, client=f"browser {user_agent}".strip())
        return await self.hand_over(peer, validated)

    async def hand_over(self, peer: GuestPeer, offer: ValidatedOffer) -> MediaAnswer:
        if self.media is None:
            raise m.Refusal("media_not_connected", "ระบบภาพและเสียงสำหรับเบราว์เซอร์ยังไม่พร้อม",
                            "Browser media is not connected on this hub yet", 503)
        try:
            return await self.media.connect(peer, offer)
        except MediaUnavailable as exc:
            raise m.Refusal("media_unavailable", exc.th, exc.en, 409) from exc

    def _peer(self, guest: store.Guest) -> GuestPeer:
        assert guest.id is not None
        with self._session() as s:
            occ = s.get(BriefingOccurrence, guest.occurrence_id)
        return GuestPeer(
            guest_id=guest.id, occurrence_id=guest.occurrence_id,
            conference_id=occ.conference_id if occ is not None else None, kind=m.LinkKind(guest.kind),
            site_code=guest.site_code, display_name=guest.name, organisation=guest.organisation,
            may_unmute=guest.may_unmute, hand_raised=guest.hand_raised,
        )

    # --- the chair --------------------------------------------------------------------------------

    def lobby(self, occurrence_id: int) -> dict[str, Any]:
        with self._session() as s:
            b = self._briefing(s, occurrence_id)
            policy = store.policy_of(s, b.series_id)
            return {
                "occurrence_id": occurrence_id,
                "series_id": b.series_id,
                "closed_to_guests": store.is_closed(s, occurrence_id),
                "admit_directly": policy.admit_directly if policy is not None else self.settings.guests_admit_directly,
                "guests": [guest_json(g) for g in store.guests_of(s, occurrence_id)],
            }

    async def chair(self, occurrence_id: int, guest_id: int, action: str, actor: str, now: datetime) -> store.Guest:
        events = {"admit": m.LobbyEvent.ADMIT, "refuse": m.LobbyEvent.REFUSE, "remove": m.LobbyEvent.REMOVE}

        def write() -> store.Guest:
            with self._session() as s:
                row = s.get(store.Guest, guest_id)
                if row is None or row.occurrence_id != occurrence_id:
                    raise m.Refusal("not_found", f"ไม่พบผู้เข้าร่วม {guest_id}", f"no guest {guest_id} in this briefing", 404)
                if action in events:
                    _apply(row, events[action], now, "removed" if action == "remove" else "")
                    if action == "remove":
                        row.hand_raised = row.may_unmute = False
                        if row.kind == m.LinkKind.DISTRICT.value:
                            self._withdraw(s, occurrence_id, row.site_code)
                elif action in ("allow-mic", "deny-mic"):
                    row.may_unmute = action == "allow-mic"
                elif action == "lower-hand":
                    row.hand_raised = False
                else:
                    raise m.Refusal("unknown_action", "ไม่รู้จักคำสั่งนี้", f"unknown action {action!r}", 404)
                row.updated_at = now
                s.add(row)
                s.commit()
                s.refresh(row)
                return row

        row = await asyncio.to_thread(write)
        await audit.arecord(self.engine, actor=actor, action=f"guests.{action}", target=f"guest:{guest_id}",
                            detail={"occurrence_id": occurrence_id, "name": row.name, "status": row.status})
        self._changed(row)
        if self.media is not None and row.id is not None:
            if row.status == m.GuestStatus.REMOVED.value:
                await self.media.disconnect(row.id, "removed")
            elif action in ("allow-mic", "deny-mic", "lower-hand"):
                await self.media.update(await asyncio.to_thread(self._peer, row))
        return row

    def _withdraw(self, s: Session, occurrence_id: int, site_code: str) -> None:
        """A removed district's link stops working; the chair can hand out a new one."""
        for link in store.links_of(s, [occurrence_id]):
            if link.kind == m.LinkKind.DISTRICT.value and link.site_code == site_code:
                link.generation += 1
                link.token_hash = sha256_hex(self.token(occurrence_id, m.LinkKind.DISTRICT, site_code, link.generation))
                s.add(link)

    async def set_access(self, occurrence_id: int, open_to_guests: bool, actor: str, now: datetime) -> dict[str, Any]:
        def write() -> list[store.Guest]:
            with self._session() as s:
                self._briefing(s, occurrence_id)
                closure = s.exec(select(store.GuestClosure).where(store.GuestClosure.occurrence_id == occurrence_id)).first()
                changed: list[store.Guest] = []
                if open_to_guests and closure is not None:
                    s.delete(closure)
                elif not open_to_guests and closure is None:
                    s.add(store.GuestClosure(occurrence_id=occurrence_id, closed_by=actor[:100], closed_at=now))
                    # The lobby is told no; guests already in stay until the chair removes them.
                    for g in store.guests_of(s, occurrence_id):
                        if g.kind == m.LinkKind.GUEST.value and g.status == m.GuestStatus.WAITING.value:
                            _apply(g, m.LobbyEvent.CLOSE, now, "closed")
                            g.updated_at = now
                            s.add(g)
                            changed.append(g)
                s.commit()
                return changed

        for g in await asyncio.to_thread(write):
            self._changed(g)
        await audit.arecord(self.engine, actor=actor, action="guests.open" if open_to_guests else "guests.close",
                            target=f"occurrence:{occurrence_id}")
        return await asyncio.to_thread(self.lobby, occurrence_id)

    def set_policy(self, series_id: int, admit_directly: bool, actor: str) -> dict[str, Any]:
        with self._session() as s:
            if s.get(BriefingSeries, series_id) is None:
                raise m.Refusal("not_found", f"ไม่พบชุดการประชุม {series_id}", f"no series {series_id}", 404)
            row = store.policy_of(s, series_id) or store.GuestPolicy(series_id=series_id)
            row.admit_directly, row.updated_by, row.updated_at = admit_directly, actor[:100], utcnow()
            s.add(row)
            s.commit()
        return {"series_id": series_id, "admit_directly": admit_directly}

    def _fault_phone(self, s: Session) -> str:
        if self.settings.helpdesk_phone:
            return self.settings.helpdesk_phone
        hub_site = s.exec(select(Site).where(Site.kind == "hub")).first()
        return hub_site.contact_phone if hub_site is not None and hub_site.contact_phone else "-"

    def queue_guest_invitations(self, series_id: int, emails: Sequence[str]) -> int:
        """Invite extra addresses to every occurrence of a series with the guest link (the same
        letter and calendar a district gets, without the district's own link)."""
        with self._session() as s:
            links = self.links_for_series(series_id, s)
            series = s.get(BriefingSeries, series_id)
            assert series is not None and series.id is not None
            if series.state != "active":
                raise m.Refusal("cancelled", "ชุดการประชุมนี้ถูกยกเลิกแล้ว", "this series is cancelled", 409)
            spec = spec_from_json(series.spec)
            organizer = Person(spec.organizer_email, spec.organizer_name or "ศาลากลางจังหวัดอุดรธานี")
            mailings = compose(
                "invitation", spec, uid=series.uid, sequence=series.sequence, passcode=series.passcode,
                organizer=organizer, fault_phone=self._fault_phone(s), recipients=[Recipient(e) for e in emails],
                links={"": links.get("", {})}, fallback_url=self.settings.effective_public_url,
                stamp=utcnow(), opens_before_min=self.settings.guests_join_lead_min,
            )
            for mail in mailings:
                enqueue(s, kind="invitation", to_addr=mail.to.email, to_name=mail.to.name, subject=mail.subject,
                        text=mail.text, html=mail.html, ics=mail.ics, ics_method=mail.method, series_id=series.id,
                        from_addr=mail.sender.email, from_name=mail.sender.name)
            s.commit()
            return len(mailings)


# --- helpers -------------------------------------------------------------------------------------


def _verify(hashed: str, passcode: str) -> bool:
    try:
        return bool(_hasher.verify(hashed, passcode))
    except (VerificationError, InvalidHashError):
        return False


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _load(raw: list[dict[str, Any]]) -> list[m.Interval]:
    return [m.Interval(datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]) if i.get("end") else None,
                       str(i.get("reason", ""))) for i in raw]


def _dump(intervals: Sequence[m.Interval]) -> list[dict[str, Any]]:
    return [{"start": i.start.isoformat(), "end": i.end.isoformat() if i.end else None, "reason": i.reason}
            for i in intervals]


def _apply(row: store.Guest, event: m.LobbyEvent, now: datetime, reason: str) -> None:
    row.status = m.lobby_next(m.GuestStatus(row.status), event).value
    if row.status != m.GuestStatus.ADMITTED.value:
        row.intervals = _dump(m.close_interval(_load(row.intervals), now, reason or row.status))
    else:
        row.intervals = _dump(m.open_interval(_load(row.intervals), now))


def version(guest: store.Guest) -> str:
    """Changes whenever the row does; plain digits, so it travels in a URL as it is."""
    return str(int(_aware(guest.updated_at).timestamp() * 1_000_000))


POLL_STATUS: dict[PollReason, int] = {
    PollReason.UNKNOWN_POLL: 404, PollReason.BAD_OPTION: 400, PollReason.NOT_IN_BRIEFING: 403,
    PollReason.NOT_IDENTIFIED: 403, PollReason.PERSON_REQUIRED: 400,
}


def participant_key(g: store.Guest) -> str:
    """Who the guest is in the identity and polls rooms: the district for a district link,
    ``guest:web-<id>`` for a guest (its own key space: the identity API numbers ``guest:<n>``)."""
    if g.kind == m.LinkKind.DISTRICT.value or g.id is None:
        return g.site_code
    return m.web_guest_key(g.id)


def guest_json(g: store.Guest) -> dict[str, Any]:
    return {
        "id": g.id, "occurrence_id": g.occurrence_id, "kind": g.kind, "site_code": g.site_code,
        "name": g.name, "organisation": g.organisation, "status": g.status,
        "hand_raised": g.hand_raised, "may_unmute": g.may_unmute, "intervals": g.intervals,
        "browser": True, "version": version(g),
    }


def opens_label(briefing: Briefing, lead: timedelta, tz: str) -> tuple[str, str]:
    return m.opens_text(briefing.start - lead, tz)


def date_label(briefing: Briefing, tz: str) -> tuple[str, str]:
    local = briefing.start.astimezone(briefing.spec.zone)
    end = briefing.end.astimezone(briefing.spec.zone)
    return (f"{format_thai_date(local.date())} เวลา {local:%H:%M}–{end:%H:%M} น.",
            f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M}–{end:%H:%M}")


def new_seat() -> str:
    return secrets.token_urlsafe(32)
