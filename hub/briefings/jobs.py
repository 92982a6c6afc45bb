"""Briefings on a calendar: stored series, APScheduler jobs, each occurrence's timeline, the API.

Series and occurrences live in the hub database; the timeline of each
occurrence is four APScheduler 3.11 jobs (``occ-<id>-readiness``,
``-reminder``, ``-open``, ``-end``) in a SQLAlchemy job store on the same
database (table ``schedule_jobs``). Jobs point at the module-level
:func:`run_step` with plain arguments; it finds the running hub through a
registry set in ``cleanup_ctx``. Stable job ids plus ``replace_existing`` mean
a restart never duplicates a job, and every step is guarded by the
occurrence's state (hub.briefings.model's state machine), so a step runs at most once.

A hub that was down at T0 and is back within ``schedule_misfire_grace_s``
opens the briefing at once; later than that the occurrence is marked missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from aiohttp import web
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlmodel import Field, Session, SQLModel, select

from hub import audit
from hub.alarms.service import ALARMS
from hub.briefings.invitations import (
    InviteContext,
    Kind,
    Person,
    cancel_occurrence_calendar,
    cancel_series_calendar,
    render_letter,
    request_calendar,
)
from hub.briefings.model import (
    TERMINAL,
    Booking,
    IllegalTransition,
    Leads,
    OccState,
    SeriesError,
    SeriesSpec,
    Step,
    advance,
    check_overlaps,
    format_thai_date,
    format_thai_datetime,
    is_late,
    is_missed,
    move_occurrence,
    occurrences,
    parse_local_datetime,
    parse_series,
    skip_occurrence,
    songkran_preset,
    songkran_year,
    spec_from_json,
    step_is_stale,
    step_times,
)
from hub.conferences.manager import CONFERENCES
from hub.control.registry import REGISTRY, AgentOffline
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.mail.outbox import (
    OUTBOX,
    MailOutbox,
    Outbox,
    enqueue,
    outbox_json,
    retry_policy_from,
    running_outbox,
    smtp_config_from,
)
from hub.models import Site, utcnow
from hub.settings import Settings
from hub.web.auth import require_role
from hub.web.body import read_json
from hub.web.errors import json_error

if TYPE_CHECKING:
    from hub.conferences.manager import ConferenceManager

log = logging.getLogger("hub.briefings.jobs")

JOB_TABLE = "schedule_jobs"
ACTOR = "system:scheduler"


# --- tables -----------------------------------------------------------------------------


class BriefingSeries(SQLModel, table=True):
    __tablename__ = "briefing_series"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=200, unique=True, index=True)  # iCalendar UID, never changes
    title: str = Field(max_length=200)
    spec: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    passcode: str = Field(max_length=16)
    sequence: int = 0  # iCalendar SEQUENCE: raised on every change sent to attendees
    state: str = Field(default="active", max_length=16)  # active | cancelled
    invited: bool = False  # invitations went out: changes send updates
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BriefingOccurrence(SQLModel, table=True):
    __tablename__ = "briefing_occurrences"
    __table_args__ = (sa.UniqueConstraint("series_id", "key_date"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="briefing_series.id", index=True)
    key_date: date  # the date the rule gave it; stays when the occurrence is moved
    starts_at: datetime = Field(index=True)
    ends_at: datetime
    state: str = Field(default=OccState.SCHEDULED.value, max_length=16, index=True)
    conference_id: int | None = None
    opened_at: datetime | None = None
    ended_at: datetime | None = None
    extended_min: float = 0.0
    note: str = Field(default="", max_length=500)


class BriefingAttendance(SQLModel, table=True):
    """One district in one occurrence: readiness, reminder, join."""

    __tablename__ = "briefing_attendance"
    __table_args__ = (sa.UniqueConstraint("occurrence_id", "site_code"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="briefing_occurrences.id", index=True)
    site_code: str = Field(max_length=32)
    ready: bool | None = None
    reasons: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    checked_at: datetime | None = None
    reminded_at: datetime | None = None
    join_sent_at: datetime | None = None
    joined_at: datetime | None = None


# --- what the timeline calls on the conference side ---------------------------------------


def _conference_manager(app: web.Application) -> ConferenceManager | None:
    """The conference manager (issue 3) if wired in; without it the scheduler sends ``join`` itself."""
    return app.get(CONFERENCES)


Mailing = Callable[[Session, "BriefingSeries", SeriesSpec], int]


# --- the module-level registry the jobs reach the app through ------------------------------

# One scheduler per database (APScheduler cannot share a job store), so one
# running hub per process; cleanup_ctx sets and clears it.
_running: dict[str, Briefings] = {}


async def run_step(occurrence_id: int, step: str) -> None:
    """The target of every job. Plain arguments so the job pickles into the database."""
    briefings = _running.get("hub")
    if briefings is None:
        log.warning("job for occurrence %s (%s) fired with no hub running", occurrence_id, step)
        return
    await briefings.run_step(occurrence_id, Step(step))


_EVENT = {Step.READINESS: "readiness", Step.REMINDER: "remind", Step.OPEN: "open", Step.END: "end"}


def job_id(occurrence_id: int, step: Step) -> str:
    return f"occ-{occurrence_id}-{step.value}"


# --- the service --------------------------------------------------------------------------


def _local(dt: datetime | None, tz: str) -> str | None:
    return dt.astimezone(ZoneInfo(tz)).isoformat() if dt else None


class Briefings:
    """Series, occurrences and their timeline for one running hub."""

    def __init__(self, app: web.Application, scheduler: AsyncIOScheduler, outbox: Outbox) -> None:
        self.app = app
        self.settings: Settings = app[SETTINGS]
        self.engine: sa.Engine = app[ENGINE]
        self.scheduler = scheduler
        self.outbox = outbox
        self.lock = asyncio.Lock()  # validation + write of series is one critical section
        self.leads = Leads(
            readiness=timedelta(seconds=self.settings.schedule_readiness_lead_s),
            reminder=timedelta(seconds=self.settings.schedule_reminder_lead_s),
        )
        self.grace = timedelta(seconds=self.settings.schedule_misfire_grace_s)
        self.tz = self.settings.timezone
        self.step_log: list[tuple[int, str, datetime]] = []  # for tests and the board's history
        self._tasks: set[asyncio.Task[Any]] = set()
        # (occurrence, site, connection) already asked to join: the open step and a
        # reconnect racing it must not send two joins over one connection.
        self._join_asked: set[tuple[int, str, int]] = set()
        # Opens in progress: the end step waits for its open (a slow media start must not
        # leave a conference running past its end).
        self._opening: dict[int, asyncio.Future[None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    # -- helpers --------------------------------------------------------------
    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _districts(self) -> dict[str, Site]:
        with self._session() as s:
            sites = s.exec(select(Site).where(Site.active == True)).all()  # noqa: E712
        return {x.code: x for x in sites}

    def _bookings(self, s: Session, exclude_series: int | None) -> list[Booking]:
        rows = s.exec(
            select(BriefingOccurrence, BriefingSeries)
            .join(BriefingSeries, BriefingSeries.id == BriefingOccurrence.series_id)  # type: ignore[arg-type]
            .where(BriefingSeries.state == "active")
            .where(BriefingOccurrence.state.not_in([OccState.CANCELLED.value, OccState.MISSED.value]))  # type: ignore[attr-defined]
            .where(BriefingOccurrence.ends_at > utcnow())
        ).all()
        return [
            Booking(series.id or 0, series.title, frozenset(series.spec["districts"]), occ.starts_at, occ.ends_at)
            for occ, series in rows
            if series.id != exclude_series
        ]

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- series ---------------------------------------------------------------
    def _validate(self, raw: dict[str, Any], exclude_series: int | None) -> SeriesSpec:
        districts = [c for c, site in self._districts().items() if site.kind == "district"]
        spec = parse_series(raw, known_districts=districts, default_tz=self.tz)
        self._check_overlaps(spec, exclude_series)
        return spec

    def _check_overlaps(self, spec: SeriesSpec, exclude_series: int | None) -> None:
        with self._session() as s:
            check_overlaps(spec, self._bookings(s, exclude_series))

    def _sync_occurrences(self, s: Session, series: BriefingSeries, spec: SeriesSpec) -> list[BriefingOccurrence]:
        """Make the occurrence rows match the spec; return every row whose jobs must change."""
        assert series.id is not None
        existing = {
            o.key_date: o
            for o in s.exec(select(BriefingOccurrence).where(BriefingOccurrence.series_id == series.id)).all()
        }
        wanted = {o.key: o for o in occurrences(spec)}
        touched: list[BriefingOccurrence] = []
        for key, occ in wanted.items():
            row = existing.get(key)
            if row is None:
                row = BriefingOccurrence(series_id=series.id, key_date=key, starts_at=occ.start, ends_at=occ.end)
            elif OccState(row.state) is OccState.SCHEDULED or (
                OccState(row.state) is OccState.CANCELLED and series.state == "active"
            ):
                row.starts_at, row.ends_at = occ.start, occ.end
                row.state = OccState.SCHEDULED.value
            else:
                continue  # already under way or over: history is not rewritten
            s.add(row)
            touched.append(row)
        for key, row in existing.items():
            if key not in wanted or series.state != "active":
                if OccState(row.state) in (OccState.SCHEDULED, OccState.READINESS, OccState.REMINDED):
                    row.state = advance(row.state, "cancel").value
                    s.add(row)
                    touched.append(row)
        s.flush()
        return touched

    def _schedule(self, rows: Sequence[BriefingOccurrence]) -> None:
        for row in rows:
            assert row.id is not None
            if OccState(row.state) in TERMINAL:
                self._unschedule(row.id)
                continue
            for step, at in step_times(row.starts_at, row.ends_at, self.leads).items():
                self.scheduler.add_job(
                    run_step,
                    trigger=DateTrigger(run_date=at, timezone=ZoneInfo(self.tz)),
                    args=[row.id, step.value],
                    id=job_id(row.id, step),
                    name=f"briefing {row.series_id} {row.key_date} {step.value}",
                    replace_existing=True,
                    coalesce=True,
                    # Ending is never skipped, however late: a running briefing must close.
                    misfire_grace_time=None if step is Step.END else self.settings.schedule_misfire_grace_s,
                    max_instances=1,
                )

    def _unschedule(self, occurrence_id: int, steps: Sequence[Step] = tuple(Step)) -> None:
        for step in steps:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(job_id(occurrence_id, step))

    async def create_series(self, raw: dict[str, Any], actor: str) -> dict[str, Any]:
        async with self.lock:
            spec = await asyncio.to_thread(self._validate, raw, None)

            def write() -> tuple[BriefingSeries, list[BriefingOccurrence]]:
                with self._session() as s:
                    series = BriefingSeries(
                        uid=f"{uuid.uuid4()}@salaklang",
                        title=spec.title,
                        spec=spec.to_json(),
                        passcode=f"{secrets.randbelow(10**6):06d}",
                        created_by=actor,
                    )
                    s.add(series)
                    s.flush()
                    rows = self._sync_occurrences(s, series, spec)
                    s.commit()
                    return series, rows

            series, rows = await asyncio.to_thread(write)
            self._schedule(rows)
        self.app[EVENTS].publish("series", {"id": series.id, "action": "create"})
        await audit.arecord(self.engine, actor=actor, action="series.create", target=f"series:{series.id}",
                            detail={"title": spec.title, "occurrences": len(rows)})
        return await asyncio.to_thread(self.series_json, series.id or 0)

    def _load(self, series_id: int) -> tuple[BriefingSeries, SeriesSpec]:
        with self._session() as s:
            series = s.get(BriefingSeries, series_id)
        if series is None:
            raise json_error(404, "no such series", field="id")
        return series, spec_from_json(series.spec)

    async def _replace_spec(
        self, series_id: int, make: Callable[[BriefingSeries, SeriesSpec], SeriesSpec], actor: str, action: str,
        mail: Mailing | None = None,
    ) -> dict[str, Any]:
        async with self.lock:
            series, old = await asyncio.to_thread(self._load, series_id)
            if series.state != "active":
                raise SeriesError("id", "ชุดการประชุมนี้ถูกยกเลิกแล้ว / this series is cancelled")
            spec = await asyncio.to_thread(make, series, old)
            await asyncio.to_thread(self._check_overlaps, spec, series_id)

            def write() -> tuple[BriefingSeries, list[BriefingOccurrence]]:
                with self._session() as s:
                    row = s.get(BriefingSeries, series_id)
                    assert row is not None
                    row.spec, row.title = spec.to_json(), spec.title
                    row.sequence += 1
                    row.updated_at = utcnow()
                    s.add(row)
                    rows = self._sync_occurrences(s, row, spec)
                    if row.invited and mail is not None:
                        mail(s, row, spec)
                    s.commit()
                    return row, rows

            series, rows = await asyncio.to_thread(write)
            self._schedule(rows)
        self.outbox.wake()
        self.app[EVENTS].publish("series", {"id": series_id, "action": action.split(".", 1)[1]})
        await audit.arecord(self.engine, actor=actor, action=action, target=f"series:{series_id}",
                            detail={"sequence": series.sequence})
        return await asyncio.to_thread(self.series_json, series_id)

    async def update_series(self, series_id: int, patch: dict[str, Any], actor: str) -> dict[str, Any]:
        def make(series: BriefingSeries, old: SeriesSpec) -> SeriesSpec:
            merged = {**series.spec, **patch}
            districts = [c for c, site in self._districts().items() if site.kind == "district"]
            return parse_series(merged, known_districts=districts, default_tz=self.tz)

        return await self._replace_spec(
            series_id, make, actor, "series.update",
            mail=lambda s, series, spec: self._mail_all(s, series, spec, "update"),
        )

    async def skip(self, series_id: int, key: date, actor: str) -> dict[str, Any]:
        return await self._replace_spec(
            series_id, lambda _s, spec: skip_occurrence(spec, key), actor, "series.skip",
            mail=lambda s, series, spec: self._mail_all(s, series, spec, "cancel", cancelled=key),
        )

    async def move(self, series_id: int, key: date, new_start: datetime, actor: str) -> dict[str, Any]:
        return await self._replace_spec(
            series_id, lambda _s, spec: move_occurrence(spec, key, new_start), actor, "series.move",
            mail=lambda s, series, spec: self._mail_all(s, series, spec, "update"),
        )

    async def cancel_series(self, series_id: int, actor: str) -> dict[str, Any]:
        async with self.lock:
            series, spec = await asyncio.to_thread(self._load, series_id)
            if series.state != "active":
                raise SeriesError("id", "ชุดการประชุมนี้ถูกยกเลิกแล้ว / this series is already cancelled")

            def write() -> list[BriefingOccurrence]:
                with self._session() as s:
                    row = s.get(BriefingSeries, series_id)
                    assert row is not None
                    row.state = "cancelled"
                    row.sequence += 1
                    row.updated_at = utcnow()
                    s.add(row)
                    rows = self._sync_occurrences(s, row, spec)
                    if row.invited:
                        self._mail_all(s, row, spec, "cancel")
                    s.commit()
                    return rows

            rows = await asyncio.to_thread(write)
            self._schedule(rows)
        self.outbox.wake()
        self.app[EVENTS].publish("series", {"id": series_id, "action": "cancel"})
        await audit.arecord(self.engine, actor=actor, action="series.cancel", target=f"series:{series_id}")
        return await asyncio.to_thread(self.series_json, series_id)

    # -- invitations -------------------------------------------------------------
    def _fault_phone(self, sites: dict[str, Site]) -> str:
        if self.settings.helpdesk_phone:
            return self.settings.helpdesk_phone
        hub_site = next((x for x in sites.values() if x.kind == "hub"), None)
        return hub_site.contact_phone if hub_site and hub_site.contact_phone else "-"

    def _recipients(self, spec: SeriesSpec, sites: dict[str, Site]) -> list[tuple[Person, str, str, str]]:
        """(person, site code, district name, room) for every address that gets mail."""
        out: list[tuple[Person, str, str, str]] = []
        for code in spec.districts:
            site = sites.get(code)
            if site is None or not site.contact_email:
                continue
            person = Person(site.contact_email, site.contact_name or f"อำเภอ{site.name_th}")
            out.append((person, code, site.name_th, site.room or f"ห้องประชุมอำเภอ{site.name_th}"))
        for addr in spec.attendees:
            out.append((Person(addr), "", "ผู้เข้าร่วม", ""))
        return out

    def _mail_all(
        self, s: Session, series: BriefingSeries, spec: SeriesSpec, kind: Kind, cancelled: date | None = None
    ) -> int:
        """Queue one mail per recipient in the caller's transaction; returns how many."""
        sites = self._districts()
        recipients = self._recipients(spec, sites)
        attendees = tuple(dict.fromkeys(p for p, *_ in recipients))
        organizer = Person(spec.organizer_email, spec.organizer_name or "ศาลากลางจังหวัดอุดรธานี")
        for person, code, name, room in recipients:
            ctx = InviteContext(
                uid=series.uid,
                sequence=series.sequence,
                access_url=f"{self.settings.effective_public_url}/briefings/{series.id}",
                passcode=series.passcode,
                location=room,
                fault_phone=self._fault_phone(sites),
                organizer=organizer,
                attendees=attendees,
                stamp=utcnow(),
            )
            if kind == "cancel" and cancelled is not None:
                cal = cancel_occurrence_calendar(spec, ctx, cancelled)
            elif kind == "cancel":
                cal = cancel_series_calendar(spec, ctx)
            else:
                cal = request_calendar(spec, ctx)
            letter = render_letter(kind, spec, ctx, recipient=person, district_name=name, cancelled_date=cancelled)
            enqueue(
                s, kind=kind, to_addr=person.email, to_name=person.name, subject=letter.subject,
                text=letter.text, html=letter.html, ics=cal.to_ical().decode("utf-8"),
                ics_method=str(cal["METHOD"]), series_id=series.id, site_code=code,
            )
        return len(recipients)

    async def send_invitations(self, series_id: int, actor: str) -> dict[str, Any]:
        async with self.lock:
            series, spec = await asyncio.to_thread(self._load, series_id)
            if series.state != "active":
                raise SeriesError("id", "ชุดการประชุมนี้ถูกยกเลิกแล้ว / this series is cancelled")

            def write() -> tuple[int, list[str]]:
                with self._session() as s:
                    row = s.get(BriefingSeries, series_id)
                    assert row is not None
                    kind: Kind = "update" if row.invited else "invitation"
                    if row.invited:
                        row.sequence += 1  # a resend is an update: clients keep only the newest
                    row.invited = True
                    s.add(row)
                    queued = self._mail_all(s, row, spec, kind)
                    sites = self._districts()
                    missing = [c for c in spec.districts if not (sites.get(c) and sites[c].contact_email)]
                    s.commit()
                    return queued, missing

            queued, missing = await asyncio.to_thread(write)
        self.outbox.wake()
        self.app[EVENTS].publish("series", {"id": series_id, "action": "invite", "queued": queued})
        await audit.arecord(self.engine, actor=actor, action="series.invite", target=f"series:{series_id}",
                            detail={"queued": queued, "no_email": missing})
        return {"series_id": series_id, "queued": queued, "districts_without_email": missing}

    # -- reads --------------------------------------------------------------------
    def series_json(self, series_id: int) -> dict[str, Any]:
        series, spec = self._load(series_id)
        with self._session() as s:
            occ = s.exec(
                select(BriefingOccurrence).where(BriefingOccurrence.series_id == series_id)
                .order_by(BriefingOccurrence.starts_at)  # type: ignore[arg-type]
            ).all()
        return {
            "id": series.id,
            "uid": series.uid,
            "state": series.state,
            "sequence": series.sequence,
            "invited": series.invited,
            "passcode": series.passcode,
            **spec.to_json(),
            "occurrences": [self._occ_json(o, series) for o in occ],
        }

    def list_series(self) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.exec(select(BriefingSeries).order_by(BriefingSeries.id)).all()  # type: ignore[arg-type]
        return [
            {"id": r.id, "title": r.title, "state": r.state, "sequence": r.sequence, "invited": r.invited,
             **{k: r.spec[k] for k in ("start_date", "end_date", "start_time", "recurrence", "districts")}}
            for r in rows
        ]

    def _occ_json(self, o: BriefingOccurrence, series: BriefingSeries) -> dict[str, Any]:
        local = o.starts_at.astimezone(ZoneInfo(self.tz))
        return {
            "id": o.id,
            "series_id": o.series_id,
            "title": series.title,
            "key_date": o.key_date.isoformat(),
            "starts_at": o.starts_at.isoformat(),
            "ends_at": o.ends_at.isoformat(),
            "starts_at_local": local.isoformat(),
            "date_th": format_thai_date(local.date()),
            "time_th": f"{local:%H:%M} น.",
            "when_th": format_thai_datetime(o.starts_at, self.tz),
            "state": o.state,
            "districts": series.spec["districts"],
            "conference_id": o.conference_id,
            "extended_min": o.extended_min,
        }

    def list_occurrences(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.exec(
                select(BriefingOccurrence, BriefingSeries)
                .join(BriefingSeries, BriefingSeries.id == BriefingOccurrence.series_id)  # type: ignore[arg-type]
                .where(BriefingOccurrence.starts_at >= start, BriefingOccurrence.starts_at < end)
                .order_by(BriefingOccurrence.starts_at)  # type: ignore[arg-type]
            ).all()
        return [self._occ_json(o, series) for o, series in rows]

    def board(self, occurrence_id: int) -> dict[str, Any]:
        """The per-district readiness / join board of one occurrence."""
        with self._session() as s:
            occ = s.get(BriefingOccurrence, occurrence_id)
            if occ is None:
                raise json_error(404, "no such occurrence", field="id")
            series = s.get(BriefingSeries, occ.series_id)
            assert series is not None
            att = {a.site_code: a for a in s.exec(
                select(BriefingAttendance).where(BriefingAttendance.occurrence_id == occurrence_id)).all()}
        sites = self._districts()
        registry = self.app[REGISTRY]
        now = utcnow()
        late_after = timedelta(seconds=self.settings.schedule_late_after_s)
        rows = []
        for code in series.spec["districts"]:
            a = att.get(code)
            site = sites.get(code)
            joined_at = a.joined_at if a else None
            started = OccState(occ.state) in (OccState.OPEN, OccState.ENDED)
            if joined_at is not None:
                presence = "late" if is_late(joined_at, occ.starts_at, now, late_after) else "joined"
            elif started:
                presence = "late" if is_late(None, occ.starts_at, now, late_after) else "waiting"
            else:
                presence = "not_started"
            rows.append({
                "code": code,
                "name_th": site.name_th if site else code,
                "name_en": site.name_en if site else code,
                "contact_phone": site.contact_phone if site else "",
                "online": registry.is_online(code),
                "ready": a.ready if a else None,
                "reasons": a.reasons if a else [],
                "checked_at": _local(a.checked_at if a else None, self.tz),
                "reminded_at": _local(a.reminded_at if a else None, self.tz),
                "joined_at": _local(joined_at, self.tz),
                "presence": presence,
            })
        return {"occurrence": self._occ_json(occ, series), "districts": rows}

    def list_invitations(self, series_id: int | None) -> list[dict[str, Any]]:
        with self._session() as s:
            q = select(MailOutbox).order_by(MailOutbox.id)  # type: ignore[arg-type]
            if series_id is not None:
                q = q.where(MailOutbox.series_id == series_id)
            rows = s.exec(q).all()
        return [outbox_json(r, self.tz) for r in rows]

    # -- the timeline ----------------------------------------------------------------
    def _get(self, occurrence_id: int) -> tuple[BriefingOccurrence, BriefingSeries] | None:
        with self._session() as s:
            occ = s.get(BriefingOccurrence, occurrence_id)
            if occ is None:
                return None
            series = s.get(BriefingSeries, occ.series_id)
            assert series is not None
            return occ, series

    def _transition(self, occurrence_id: int, event: str, **changes: Any) -> BriefingOccurrence | None:
        """Apply one state-machine event; None if not allowed now.

        Compare-and-set on the state column: two triggers racing (a restart's catch-up and
        the missed-job listener, say) cannot both win, so each step happens at most once.
        """
        with self._session() as s:
            occ = s.get(BriefingOccurrence, occurrence_id)
            if occ is None:
                return None
            before = occ.state
            try:
                after = advance(before, event).value
            except IllegalTransition as exc:
                log.info("occurrence %s: %s", occurrence_id, exc)
                return None
            result = s.execute(
                sa.update(BriefingOccurrence)
                .where(BriefingOccurrence.id == occurrence_id, BriefingOccurrence.state == before)  # type: ignore[arg-type]
                .values(state=after, **changes)
            )
            s.commit()
            if result.rowcount != 1:  # type: ignore[attr-defined]
                log.info("occurrence %s: %s lost a race (state changed under it)", occurrence_id, event)
                return None
            s.expire_all()
            return s.get(BriefingOccurrence, occurrence_id)

    def _attendance(self, occurrence_id: int, code: str, **changes: Any) -> None:
        """Upsert one district's row; steps running side by side may both create it."""
        for attempt in range(2):
            with self._session() as s:
                row = s.exec(select(BriefingAttendance).where(
                    BriefingAttendance.occurrence_id == occurrence_id, BriefingAttendance.site_code == code)).first()
                if row is None:
                    row = BriefingAttendance(occurrence_id=occurrence_id, site_code=code)
                for k, v in changes.items():
                    setattr(row, k, v)
                s.add(row)
                try:
                    s.commit()
                    return
                except sa.exc.IntegrityError:
                    s.rollback()
                    if attempt:
                        raise

    async def run_step(self, occurrence_id: int, step: Step) -> None:
        # Steps of one occurrence change its state in the order the scheduler fired them
        # (readiness and reminder both due at once after a late start, say); the lock is
        # taken before the first await and held only until the state has changed.
        lock = self._locks.setdefault(occurrence_id, asyncio.Lock())
        async with lock:
            got = await asyncio.to_thread(self._get, occurrence_id)
            if got is None:
                return
            occ, series = got
            now = utcnow()
            if step_is_stale(step, occ.starts_at, now):
                log.info("occurrence %s: %s skipped, T0 already passed", occurrence_id, step.value)
                return
            if step is Step.OPEN and is_missed(occ.state, occ.starts_at, now, self.grace):
                await self.mark_missed(occurrence_id)
                return
            if step is Step.END:
                opening = self._opening.get(occurrence_id)
                if opening is not None:  # a slow conference start must not outlive its end
                    await asyncio.shield(opening)
            stamp = {Step.OPEN: {"opened_at": now}, Step.END: {"ended_at": now}}.get(step, {})
            changed = await asyncio.to_thread(self._transition, occurrence_id, _EVENT[step], **stamp)
            if changed is None:
                return
            if step is Step.OPEN:
                self._opening[occurrence_id] = asyncio.get_running_loop().create_future()
            self.step_log.append((occurrence_id, step.value, now))
        if step is Step.READINESS:
            await self._readiness(changed, series)
        elif step is Step.REMINDER:
            await self._reminder(changed, series)
        elif step is Step.OPEN:
            await self._open(changed, series)
        else:
            await self._end(changed)

    async def _readiness(self, occ: BriefingOccurrence, series: BriefingSeries) -> None:
        assert occ.id is not None
        registry = self.app[REGISTRY]
        args = {"occurrence_id": occ.id, "title": series.title, "starts_at": occ.starts_at.timestamp()}

        async def one(code: str) -> tuple[str, bool, list[str]]:
            try:
                ack = await registry.send_command(code, "selftest", args, timeout=self.settings.schedule_selftest_timeout_s)
            except AgentOffline:
                return code, False, ["เครื่องของอำเภอออฟไลน์ / the district agent is offline"]
            except TimeoutError:
                return code, False, ["ไม่ตอบผลทดสอบระบบ / no self-test answer in time"]
            if not ack.ok:
                return code, False, [ack.detail or "self-test failed"]
            reasons = [str(r) for r in ack.result.get("reasons") or []]
            return code, bool(ack.result.get("ready")), reasons

        results = await asyncio.gather(*(one(c) for c in series.spec["districts"]))
        now = utcnow()
        for code, ready, reasons in results:
            await asyncio.to_thread(self._attendance, occ.id, code, ready=ready, reasons=reasons, checked_at=now)
        board = await asyncio.to_thread(self.board, occ.id)
        self.app[EVENTS].publish("readiness", board)
        for row in board["districts"]:
            if row["ready"] is False:
                await self._raise_alarm(occ, series, row)

    async def _raise_alarm(self, occ: BriefingOccurrence, series: BriefingSeries, row: dict[str, Any]) -> None:
        reasons = "; ".join(row["reasons"]) or "-"
        alert = {
            "source": "readiness",
            "severity": "warning",
            "occurrence_id": occ.id,
            "series_id": series.id,
            "site": row["code"],
            "name_th": row["name_th"],
            "contact_phone": row["contact_phone"],
            "reasons": row["reasons"],
            "message": (
                f"อำเภอ{row['name_th']} ไม่พร้อมประชุม “{series.title}”: {reasons} — โทร {row['contact_phone']} / "
                f"{row['name_en']} not ready: {reasons} — call {row['contact_phone']}"
            ),
        }
        # The control room always gets the readiness alert with the phone number, and an
        # alarm that waits for acknowledgement (critical before a briefing): "offline" for a
        # district that is not connected, "not_ready" for one whose self-test failed.
        self.app[EVENTS].publish("alert", alert)
        alarms = self.app.get(ALARMS)
        if alarms is not None:
            await alarms.raise_alarm(
                row["code"], "offline" if not row["online"] else "not_ready",
                {"occurrence_id": occ.id, "reasons": row["reasons"], "contact_phone": row["contact_phone"]},
            )
        await audit.arecord(self.engine, actor=ACTOR, action="briefing.not_ready", target=row["code"],
                            ok=False, detail={"occurrence_id": occ.id, "reasons": row["reasons"]})

    async def _reminder(self, occ: BriefingOccurrence, series: BriefingSeries) -> None:
        assert occ.id is not None
        local = occ.starts_at.astimezone(ZoneInfo(self.tz))
        args = {
            "occurrence_id": occ.id,
            "title": series.title,
            "starts_at": occ.starts_at.timestamp(),
            "message_th": f"อีกไม่นานจะเริ่มประชุม “{series.title}” เวลา {local:%H:%M} น.",
            "message_en": f"Briefing “{series.title}” starts at {local:%H:%M}.",
        }
        codes = [c for c in series.spec["districts"] if self.app[REGISTRY].is_online(c)]
        await self.app[REGISTRY].broadcast("reminder", args, codes=codes)
        now = utcnow()
        for code in codes:
            await asyncio.to_thread(self._attendance, occ.id, code, reminded_at=now)
        self.app[EVENTS].publish("briefing", {"occurrence_id": occ.id, "state": OccState.REMINDED.value})
        # Start the media worker now, not at T0: a fresh worker process (PyAV, aiortc) takes
        # about a second to come up, which is what the districts' joins would wait for.
        manager = _conference_manager(self.app)
        if manager is not None:
            await manager.prepare()

    async def _open(self, occ: BriefingOccurrence, series: BriefingSeries) -> None:
        assert occ.id is not None
        # The state change was committed first (run_step): a second trigger finds it open.
        try:
            await self._start_conference(occ, series)
        finally:
            done = self._opening.pop(occ.id, None)
            if done is not None and not done.done():
                done.set_result(None)
        self.app[EVENTS].publish("briefing", await asyncio.to_thread(self.board, occ.id))
        await audit.arecord(self.engine, actor=ACTOR, action="briefing.open", target=f"occurrence:{occ.id}",
                            detail={"series_id": series.id})

    async def _start_conference(self, occ: BriefingOccurrence, series: BriefingSeries) -> None:
        assert occ.id is not None
        codes = list(series.spec["districts"])
        manager = _conference_manager(self.app)
        if manager is not None:
            try:
                conf_id = await manager.start(
                    codes, series.spec.get("layout") or "4x5", title=series.title, occurrence_id=occ.id,
                    agenda=list(series.spec.get("agenda") or []), actor=ACTOR,
                )
            except Exception as exc:
                log.exception("occurrence %s: conference did not start", occ.id)
                self.app[EVENTS].publish("alert", {"source": "schedule", "severity": "critical",
                                                   "occurrence_id": occ.id,
                                                   "message": f"เปิดการประชุมไม่สำเร็จ / could not open the briefing: {exc}"})
                return
            await asyncio.to_thread(self._set_conference, occ.id, conf_id)
        else:
            await asyncio.gather(*(self._send_join(occ.id, series.title, c) for c in codes
                                   if self.app[REGISTRY].is_online(c)))

    def _set_conference(self, occurrence_id: int, conf_id: int) -> None:
        with self._session() as s:
            occ = s.get(BriefingOccurrence, occurrence_id)
            assert occ is not None
            occ.conference_id = conf_id
            s.add(occ)
            s.commit()

    async def _send_join(self, occurrence_id: int, title: str, code: str) -> None:
        """Ask one agent to join (used when no conference manager is wired in).

        Once per connection: an agent that reconnects mid-briefing is asked again (it rejoins).
        """
        conn = self.app[REGISTRY].connections.get(code)
        if conn is None:
            return
        key = (occurrence_id, code, id(conn))
        if key in self._join_asked:
            return
        self._join_asked.add(key)
        sent_at = utcnow()
        ok = False
        try:
            # Send before any database write: T0 → command is the latency the districts feel.
            ack = await self.app[REGISTRY].send_command(
                code, "join", {"occurrence_id": occurrence_id, "title": title}, timeout=15.0)
            ok = ack.ok
        except (AgentOffline, TimeoutError) as exc:
            log.info("occurrence %s: %s did not join: %s", occurrence_id, code, exc)
        await asyncio.to_thread(self._attendance, occurrence_id, code, join_sent_at=sent_at)
        if ok:
            await self.mark_joined(occurrence_id, code)

    async def mark_joined(self, occurrence_id: int, code: str) -> None:
        def write() -> bool:
            with self._session() as s:
                row = s.exec(select(BriefingAttendance).where(
                    BriefingAttendance.occurrence_id == occurrence_id, BriefingAttendance.site_code == code)).first()
                if row is not None and row.joined_at is not None:
                    return False
            self._attendance(occurrence_id, code, joined_at=utcnow())
            return True

        if await asyncio.to_thread(write):
            self.app[EVENTS].publish("briefing.joined", {"occurrence_id": occurrence_id, "site": code})

    def _open_occurrences_for(self, code: str) -> list[tuple[int, str]]:
        with self._session() as s:
            rows = s.exec(
                select(BriefingOccurrence, BriefingSeries)
                .join(BriefingSeries, BriefingSeries.id == BriefingOccurrence.series_id)  # type: ignore[arg-type]
                .where(BriefingOccurrence.state == OccState.OPEN.value)
            ).all()
        return [(o.id or 0, series.title) for o, series in rows if code in series.spec["districts"]]

    async def on_connect(self, code: str, connected: bool) -> None:
        """A district that comes online during its briefing is asked to join (it will show late)."""
        if not connected or _conference_manager(self.app) is not None:
            return
        for occurrence_id, title in await asyncio.to_thread(self._open_occurrences_for, code):
            self._spawn(self._send_join(occurrence_id, title, code))

    async def on_status(self, code: str, msg: Any) -> None:
        """An agent reporting ``in_conference`` counts as joined (the conference manager's path:
        site_agent.media.endpoint sends it once its media connection is up)."""
        if getattr(msg, "state", None) != "in_conference":
            return
        for occurrence_id, _title in await asyncio.to_thread(self._open_occurrences_for, code):
            await self.mark_joined(occurrence_id, code)

    async def _end(self, occ: BriefingOccurrence) -> None:
        assert occ.id is not None
        self._locks.pop(occ.id, None)
        got = await asyncio.to_thread(self._get, occ.id)
        assert got is not None
        fresh, series = got
        manager = _conference_manager(self.app)
        if manager is not None and fresh.conference_id is not None:
            try:
                await manager.end(fresh.conference_id, ACTOR)
            except Exception:
                log.exception("occurrence %s: conference %s did not end cleanly", occ.id, fresh.conference_id)
        elif manager is None:
            codes = [c for c in series.spec["districts"] if self.app[REGISTRY].is_online(c)]
            await self.app[REGISTRY].broadcast("leave", {"occurrence_id": occ.id}, codes=codes)
        self.app[EVENTS].publish("briefing", {"occurrence_id": occ.id, "state": OccState.ENDED.value})
        await audit.arecord(self.engine, actor=ACTOR, action="briefing.end", target=f"occurrence:{occ.id}")

    async def extend(self, occurrence_id: int, minutes: float, actor: str) -> dict[str, Any]:
        def write() -> BriefingOccurrence:
            with self._session() as s:
                occ = s.get(BriefingOccurrence, occurrence_id)
                if occ is None:
                    raise json_error(404, "no such occurrence", field="id")
                if OccState(occ.state) in TERMINAL:
                    raise SeriesError("id", "การประชุมนี้จบแล้ว / this briefing is over")
                occ.ends_at = occ.ends_at + timedelta(minutes=minutes)
                occ.extended_min += minutes
                s.add(occ)
                s.commit()
                return occ

        occ = await asyncio.to_thread(write)
        if OccState(occ.state) is OccState.SCHEDULED:
            self._schedule([occ])
        else:
            self._reschedule_end(occ)
        manager = _conference_manager(self.app)
        if manager is not None and occ.conference_id is not None:
            await manager.extend(occ.conference_id, minutes, actor)
        await audit.arecord(self.engine, actor=actor, action="briefing.extend", target=f"occurrence:{occurrence_id}",
                            detail={"minutes": minutes})
        return await asyncio.to_thread(self.board, occurrence_id)

    def _reschedule_end(self, occ: BriefingOccurrence) -> None:
        assert occ.id is not None
        self.scheduler.add_job(
            run_step, trigger=DateTrigger(run_date=occ.ends_at, timezone=ZoneInfo(self.tz)),
            args=[occ.id, Step.END.value], id=job_id(occ.id, Step.END), replace_existing=True,
            coalesce=True, misfire_grace_time=None, max_instances=1,
        )

    async def mark_missed(self, occurrence_id: int) -> None:
        occ = await asyncio.to_thread(self._transition, occurrence_id, "miss", note="hub down past the grace")
        if occ is None:
            return
        self._unschedule(occurrence_id)
        log.warning("occurrence %s missed: the hub was down at T0 beyond the grace", occurrence_id)
        self.app[EVENTS].publish("briefing", {"occurrence_id": occurrence_id, "state": OccState.MISSED.value})
        self.app[EVENTS].publish("alert", {
            "source": "schedule", "severity": "critical", "occurrence_id": occurrence_id,
            "message": "การประชุมไม่ได้เริ่มตามกำหนด (ระบบไม่พร้อมในเวลา) / briefing missed: the hub was down at T0",
        })
        await audit.arecord(self.engine, actor=ACTOR, action="briefing.missed", target=f"occurrence:{occurrence_id}",
                            ok=False)

    def next_briefing(self, code: str, now: datetime) -> datetime | None:
        """Start of the site's next briefing not yet open (for alarm severity)."""
        with self._session() as s:
            rows = s.exec(
                select(BriefingOccurrence, BriefingSeries)
                .join(BriefingSeries, BriefingSeries.id == BriefingOccurrence.series_id)  # type: ignore[arg-type]
                .where(BriefingOccurrence.state.in_(  # type: ignore[attr-defined]
                    [OccState.SCHEDULED.value, OccState.READINESS.value, OccState.REMINDED.value]))
                .where(BriefingOccurrence.starts_at >= now)
                .order_by(BriefingOccurrence.starts_at)  # type: ignore[arg-type]
            ).all()
        return next((o.starts_at for o, series in rows if code in series.spec["districts"]), None)

    async def anext_briefing(self, code: str, now: datetime) -> datetime | None:
        return await asyncio.to_thread(self.next_briefing, code, now)

    def _overdue(self) -> list[int]:
        limit = utcnow() - self.grace
        with self._session() as s:
            rows = s.exec(select(BriefingOccurrence).where(
                BriefingOccurrence.state.in_(  # type: ignore[attr-defined]
                    [OccState.SCHEDULED.value, OccState.READINESS.value, OccState.REMINDED.value]),
                BriefingOccurrence.starts_at < limit)).all()
        return [r.id for r in rows if r.id is not None]

    async def reconcile(self) -> None:
        """At start: anything that should have opened more than the grace ago is missed."""
        for occurrence_id in await asyncio.to_thread(self._overdue):
            await self.mark_missed(occurrence_id)

    def on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED and event.job_id.endswith("-open"):
            occurrence_id = int(event.job_id.split("-")[1])
            self._spawn(self.mark_missed(occurrence_id))
        elif event.code == EVENT_JOB_ERROR:
            log.error("job %s failed: %r", event.job_id, event.exception)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


BRIEFINGS = web.AppKey("briefings", Briefings)


def make_scheduler(engine: sa.Engine, settings: Settings) -> AsyncIOScheduler:
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": settings.schedule_misfire_grace_s,
            "max_instances": 1,
        },
        timezone=ZoneInfo(settings.timezone),
    )


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    outbox = Outbox(app[ENGINE], smtp_config_from(settings), retry_policy_from(settings), settings.mail_poll_s)
    app[OUTBOX] = outbox
    scheduler = make_scheduler(app[ENGINE], settings)
    briefings = Briefings(app, scheduler, outbox)
    app[BRIEFINGS] = briefings
    scheduler.add_listener(briefings.on_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    app[REGISTRY].add_connect_listener(briefings.on_connect)
    app[REGISTRY].add_message_handler("status", briefings.on_status)
    if ALARMS in app:
        app[ALARMS].set_briefing_lookup(briefings.anext_briefing)
    if "hub" in _running:
        log.warning("a second hub started in this process: scheduled jobs go to the newest")
    _running["hub"] = briefings
    scheduler.start()  # creates the job table on a fresh database
    # Overdue beyond the grace → missed. The scheduler's own catch-up cannot open them late
    # either: run_step checks the grace again before opening.
    await briefings.reconcile()
    async with running_outbox(outbox):
        try:
            yield
        finally:
            scheduler.shutdown(wait=False)
            if _running.get("hub") is briefings:
                del _running["hub"]
            await briefings.close()


# --- HTTP API -------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    return await read_json(request, dict[str, Any])


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise json_error(404, f"{name} ไม่ถูกต้อง / bad {name}", field=name) from exc


async def _guard(coro: Awaitable[dict[str, Any]]) -> web.Response:
    try:
        return web.json_response(await coro)
    except SeriesError as exc:
        status = 409 if exc.field == "districts" and "booked" in exc.message else 400
        return web.json_response(exc.to_json(), status=status)


async def post_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await _body(request)
    resp = await _guard(request.app[BRIEFINGS].create_series(body, who.actor))
    if resp.status == 200:
        resp.set_status(201)
    return resp


async def get_series_list(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].list_series))


async def get_series(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].series_json, _int(request, "id")))


async def patch_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await _body(request)
    return await _guard(request.app[BRIEFINGS].update_series(_int(request, "id"), body, who.actor))


async def delete_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    return await _guard(request.app[BRIEFINGS].cancel_series(_int(request, "id"), who.actor))


async def post_songkran(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await _body(request) if request.can_read_body else {}
    briefings = request.app[BRIEFINGS]
    today = datetime.now(ZoneInfo(briefings.tz)).date()
    year = body.get("year", songkran_year(today))
    if not isinstance(year, int) or not 2000 <= year <= 2200:
        return web.json_response({"error": "ปีไม่ถูกต้อง / bad year", "field": "year"}, status=400)
    districts = await asyncio.to_thread(briefings._districts)
    raw = songkran_preset(
        year=year,
        districts=[c for c, s in districts.items() if s.kind == "district"],
        # The province hall's own address organises by default (replies go to people, not the relay).
        organizer_email=str(
            body.get("organizer_email")
            or next((s.contact_email for s in districts.values() if s.kind == "hub" and s.contact_email), "")
            or request.app[SETTINGS].mail_from
        ),
        organizer_name=str(body.get("organizer_name") or "ศาลากลางจังหวัดอุดรธานี"),
        tz=briefings.tz,
    )
    resp = await _guard(briefings.create_series(raw, who.actor))
    if resp.status == 200:
        resp.set_status(201)
    return resp


def _date_param(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise json_error(400, f"วันที่ไม่ถูกต้อง / not a date: {value!r}", field=field) from exc


async def post_skip(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    key = _date_param(request.match_info["date"], "date")
    return await _guard(request.app[BRIEFINGS].skip(_int(request, "id"), key, who.actor))


async def post_move(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    key = _date_param(request.match_info["date"], "date")
    body = await _body(request)
    briefings = request.app[BRIEFINGS]
    try:
        new_start = parse_local_datetime(body.get("start"), ZoneInfo(briefings.tz), "start")
    except SeriesError as exc:
        return web.json_response(exc.to_json(), status=400)
    return await _guard(briefings.move(_int(request, "id"), key, new_start, who.actor))


async def get_occurrences(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    briefings = request.app[BRIEFINGS]
    zone = ZoneInfo(briefings.tz)
    today = datetime.now(zone).date()
    start = _date_param(request.query["from"], "from") if "from" in request.query else today
    end = _date_param(request.query["to"], "to") if "to" in request.query else start + timedelta(days=31)
    if end < start:
        return web.json_response({"error": "to อยู่ก่อน from / 'to' is before 'from'", "field": "to"}, status=400)
    lo = datetime.combine(start, datetime.min.time(), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return web.json_response(await asyncio.to_thread(briefings.list_occurrences, lo, hi))


async def post_invitations(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    resp = await _guard(request.app[BRIEFINGS].send_invitations(_int(request, "id"), who.actor))
    if resp.status == 200:
        resp.set_status(202)
    return resp


async def get_invitations(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    sid = request.query.get("series_id")
    series_id = int(sid) if sid and sid.isdigit() else None
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].list_invitations, series_id))


async def get_readiness(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].board, _int(request, "id")))


async def post_extend(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await _body(request)
    minutes = body.get("minutes")
    if not isinstance(minutes, int | float) or isinstance(minutes, bool) or not 0 < minutes <= 240:
        return web.json_response({"error": "นาทีต้องอยู่ระหว่าง 1–240 / minutes must be 1–240", "field": "minutes"},
                                 status=400)
    return await _guard(request.app[BRIEFINGS].extend(_int(request, "id"), float(minutes), who.actor))


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_lifecycle)
    r = app.router
    r.add_post("/api/v1/series", post_series)
    r.add_get("/api/v1/series", get_series_list)
    r.add_post("/api/v1/series/preset/songkran", post_songkran)
    r.add_get("/api/v1/series/{id}", get_series)
    r.add_patch("/api/v1/series/{id}", patch_series)
    r.add_delete("/api/v1/series/{id}", delete_series)
    r.add_post("/api/v1/series/{id}/occurrences/{date}/skip", post_skip)
    r.add_post("/api/v1/series/{id}/occurrences/{date}/move", post_move)
    r.add_post("/api/v1/series/{id}/invitations", post_invitations)
    r.add_get("/api/v1/invitations", get_invitations)
    r.add_get("/api/v1/occurrences", get_occurrences)
    r.add_get("/api/v1/occurrences/{id}/readiness", get_readiness)
    r.add_post("/api/v1/occurrences/{id}/extend", post_extend)
