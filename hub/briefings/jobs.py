"""Briefings on a calendar, at run time: series changes, invitations, each occurrence's timeline.

Series and occurrences live in the hub database (hub.briefings.store); the
timeline of each occurrence is four APScheduler 3.11 jobs
(``occ-<id>-readiness``, ``-reminder``, ``-open``, ``-end``) in a SQLAlchemy
job store on the same database (table ``schedule_jobs``). A job holds only
plain arguments and points at the module-level :func:`run_step`, which only
names the step that is due; the app's own :class:`Briefings`, listening on its
own scheduler, runs it: no module state, each app reaches only itself.
Stable job ids plus ``replace_existing`` mean a restart never duplicates a
job, and every step is guarded by the occurrence's state
(hub.briefings.model's state machine), so a step runs at most once.

At T0 the conference manager starts the conference and joins the districts
(its one join path); at the end it ends the conference and the districts leave.

A hub that was down at T0 and is back within ``schedule_misfire_grace_s``
opens the briefing at once; later than that the occurrence is marked missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlmodel import Session, select

from hub import audit
from hub.alarms.service import Alarms
from hub.briefings import store
from hub.briefings.invitations import AccessLinks, Kind, Person, Recipient, compose, outbox_json
from hub.briefings.model import (
    TERMINAL,
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
    parse_series,
    skip_occurrence,
    spec_from_json,
    step_is_stale,
    step_times,
)
from hub.briefings.store import BriefingAttendance, BriefingOccurrence, BriefingSeries
from hub.conferences.manager import ConferenceManager
from hub.control.registry import AgentOffline, AgentRegistry, CommandRefused
from hub.events import EventBus
from hub.mail.service import Outbox
from hub.mail.store import enqueue
from hub.models import Site, utcnow
from hub.settings import Settings
from hub.web.errors import json_error
from site_agent import protocol as p

log = logging.getLogger("hub.briefings.jobs")

JOB_TABLE = "schedule_jobs"
ACTOR = "system:scheduler"

Mailing = Callable[[Session, BriefingSeries, SeriesSpec], int]


class StepDue(NamedTuple):
    occurrence_id: int
    step: Step


async def run_step(occurrence_id: int, step: str) -> StepDue:
    """The target of every job: plain arguments so the job pickles into the database.

    It only says what is due; :meth:`Briefings.on_job_event`, listening on the scheduler of
    the app that owns the job, runs the step (APScheduler hands it this return value).
    """
    return StepDue(occurrence_id, Step(step))


_EVENT = {Step.READINESS: "readiness", Step.REMINDER: "remind", Step.OPEN: "open", Step.END: "end"}


def job_id(occurrence_id: int, step: Step) -> str:
    return f"occ-{occurrence_id}-{step.value}"


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


def _local(dt: datetime | None, tz: str) -> str | None:
    return dt.astimezone(ZoneInfo(tz)).isoformat() if dt else None


class Briefings:
    """Series, occurrences and their timeline for one running hub."""

    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        events: EventBus,
        registry: AgentRegistry,
        conferences: ConferenceManager,
        alarms: Alarms,
        outbox: Outbox,
        access_links: AccessLinks,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.events = events
        self.registry = registry
        self.conferences = conferences
        self.alarms = alarms
        self.outbox = outbox
        self.access_links = access_links
        self.scheduler = make_scheduler(engine, settings)
        self.lock = asyncio.Lock()  # validation + write of series is one critical section
        self.leads = Leads(
            readiness=timedelta(seconds=self.settings.schedule_readiness_lead_s),
            reminder=timedelta(seconds=self.settings.schedule_reminder_lead_s),
        )
        self.grace = timedelta(seconds=self.settings.schedule_misfire_grace_s)
        self.tz = self.settings.timezone
        self.step_log: list[tuple[int, str, datetime]] = []  # for tests and the board's history
        self._tasks: set[asyncio.Task[Any]] = set()
        # Opens in progress: the end step waits for its open (a slow media start must not
        # leave a conference running past its end).
        self._opening: dict[int, asyncio.Future[None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    # -- helpers --------------------------------------------------------------
    def _session(self) -> Session:
        return store.session(self.engine)

    def _districts(self) -> dict[str, Site]:
        return store.active_sites(self.engine)

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
            check_overlaps(spec, store.bookings(s, exclude_series, utcnow()))

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
        self.events.publish("series", {"id": series.id, "action": "create"})
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
        self.events.publish("series", {"id": series_id, "action": action.split(".", 1)[1]})
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
        self.events.publish("series", {"id": series_id, "action": "cancel"})
        await audit.arecord(self.engine, actor=actor, action="series.cancel", target=f"series:{series_id}")
        return await asyncio.to_thread(self.series_json, series_id)

    # -- invitations -------------------------------------------------------------
    def _fault_phone(self, sites: dict[str, Site]) -> str:
        if self.settings.helpdesk_phone:
            return self.settings.helpdesk_phone
        hub_site = next((x for x in sites.values() if x.kind == "hub"), None)
        return hub_site.contact_phone if hub_site and hub_site.contact_phone else "-"

    def _recipients(self, spec: SeriesSpec, sites: dict[str, Site]) -> list[Recipient]:
        """Every address that gets mail: each district's contact (named by its district), then
        the series' extra addresses."""
        out: list[Recipient] = []
        for code in spec.districts:
            site = sites.get(code)
            if site is None or not site.contact_email:
                continue
            out.append(Recipient(site.contact_email, site.contact_name, code, site.name_th,
                                 site.room or f"ห้องประชุมอำเภอ{site.name_th}"))
        out += [Recipient(addr) for addr in spec.attendees]
        return out

    def _mail_all(
        self, s: Session, series: BriefingSeries, spec: SeriesSpec, kind: Kind, cancelled: date | None = None
    ) -> int:
        """Queue one mail per recipient in the caller's transaction; returns how many.

        The links are the guests room's (each district its own, everyone the guest link), made
        in this same session: the occurrences just written are only visible here, and on SQLite
        a second connection would wait for this one's write lock.
        """
        assert series.id is not None
        sites = self._districts()
        mailings = compose(
            kind, spec, uid=series.uid, sequence=series.sequence, passcode=series.passcode,
            organizer=Person(spec.organizer_email, spec.organizer_name or "ศาลากลางจังหวัดอุดรธานี"),
            fault_phone=self._fault_phone(sites), recipients=self._recipients(spec, sites),
            links=self.access_links(series.id, s), fallback_url=self.settings.effective_public_url,
            stamp=utcnow(), cancelled=cancelled, opens_before_min=self.settings.guests_join_lead_min,
        )
        for mail in mailings:
            enqueue(
                s, kind=kind, to_addr=mail.to.email, to_name=mail.to.name, subject=mail.subject,
                text=mail.text, html=mail.html, ics=mail.ics, ics_method=mail.method, series_id=series.id,
                site_code=mail.site_code, from_addr=mail.sender.email, from_name=mail.sender.name,
            )
        return len(mailings)

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
        self.events.publish("series", {"id": series_id, "action": "invite", "queued": queued})
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
            "record": series.record,  # recorded automatically (issue 14; PUT /api/v1/series/{id}/recording)
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
        registry = self.registry
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
        return [outbox_json(r, self.tz) for r in store.mail_rows(self.engine, series_id)]

    # -- the timeline ----------------------------------------------------------------
    def _get(self, occurrence_id: int) -> tuple[BriefingOccurrence, BriefingSeries] | None:
        return store.get(self.engine, occurrence_id)

    def _transition(self, occurrence_id: int, event: str, **changes: Any) -> BriefingOccurrence | None:
        """Apply one state-machine event; None if not allowed now or another trigger won."""
        try:
            return store.transition(self.engine, occurrence_id, event, **changes)
        except (IllegalTransition, store.LostRace) as exc:
            log.info("occurrence %s: %s", occurrence_id, exc)
            return None

    def _attendance(self, occurrence_id: int, code: str, **changes: Any) -> None:
        store.attendance(self.engine, occurrence_id, code, **changes)

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
        registry = self.registry
        command = p.SelfTest(occurrence_id=occ.id, title=series.title, starts_at=occ.starts_at.timestamp())

        async def one(code: str) -> tuple[str, bool, list[str]]:
            try:
                result = await registry.send_command(code, command, timeout=self.settings.schedule_selftest_timeout_s)
            except AgentOffline:
                return code, False, ["เครื่องของอำเภอออฟไลน์ / the district agent is offline"]
            except TimeoutError:
                return code, False, ["ไม่ตอบผลทดสอบระบบ / no self-test answer in time"]
            except CommandRefused as exc:
                return code, False, [exc.detail or "self-test failed"]
            return code, result.ready, list(result.reasons)

        results = await asyncio.gather(*(one(c) for c in series.spec["districts"]))
        now = utcnow()
        for code, ready, reasons in results:
            await asyncio.to_thread(self._attendance, occ.id, code, ready=ready, reasons=reasons, checked_at=now)
        board = await asyncio.to_thread(self.board, occ.id)
        self.events.publish("readiness", board)
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
        self.events.publish("alert", alert)
        await self.alarms.raise_alarm(
            row["code"], "offline" if not row["online"] else "not_ready",
            {"occurrence_id": occ.id, "reasons": row["reasons"], "contact_phone": row["contact_phone"]},
        )
        await audit.arecord(self.engine, actor=ACTOR, action="briefing.not_ready", target=row["code"],
                            ok=False, detail={"occurrence_id": occ.id, "reasons": row["reasons"]})

    async def _reminder(self, occ: BriefingOccurrence, series: BriefingSeries) -> None:
        assert occ.id is not None
        local = occ.starts_at.astimezone(ZoneInfo(self.tz))
        reminder = p.Reminder(
            occurrence_id=occ.id,
            title=series.title,
            starts_at=occ.starts_at.timestamp(),
            message_th=f"อีกไม่นานจะเริ่มประชุม “{series.title}” เวลา {local:%H:%M} น.",
            message_en=f"Briefing “{series.title}” starts at {local:%H:%M}.",
        )
        codes = [c for c in series.spec["districts"] if self.registry.is_online(c)]
        await self.registry.broadcast(reminder, codes=codes)
        now = utcnow()
        for code in codes:
            await asyncio.to_thread(self._attendance, occ.id, code, reminded_at=now)
        self.events.publish("briefing", {"occurrence_id": occ.id, "state": OccState.REMINDED.value})
        # Start the media worker now, not at T0: a fresh worker process (PyAV, aiortc) takes
        # about a second to come up, which is what the districts' joins would wait for.
        await self.conferences.prepare()

    async def _open(self, occ: BriefingOccurrence, series: BriefingSeries) -> None:
        assert occ.id is not None
        # The state change was committed first (run_step): a second trigger finds it open.
        try:
            await self._start_conference(occ, series)
        finally:
            done = self._opening.pop(occ.id, None)
            if done is not None and not done.done():
                done.set_result(None)
        self.events.publish("briefing", await asyncio.to_thread(self.board, occ.id))
        await audit.arecord(self.engine, actor=ACTOR, action="briefing.open", target=f"occurrence:{occ.id}",
                            detail={"series_id": series.id})

    async def _start_conference(self, occ: BriefingOccurrence, series: BriefingSeries) -> None:
        """The conference manager starts the conference and joins the districts (its one join path)."""
        assert occ.id is not None
        codes = list(series.spec["districts"])
        try:
            conf_id = await self.conferences.start(
                codes, series.spec.get("layout") or "4x5", title=series.title, occurrence_id=occ.id,
                agenda=list(series.spec.get("agenda") or []), actor=ACTOR,
            )
        except Exception as exc:
            log.exception("occurrence %s: conference did not start", occ.id)
            self.events.publish("alert", {"source": "schedule", "severity": "critical",
                                          "occurrence_id": occ.id,
                                          "message": f"เปิดการประชุมไม่สำเร็จ / could not open the briefing: {exc}"})
            return
        await asyncio.to_thread(store.set_conference, self.engine, occ.id, conf_id)

    async def mark_joined(self, occurrence_id: int, code: str) -> None:
        if await asyncio.to_thread(store.mark_joined, self.engine, occurrence_id, code, utcnow()):
            self.events.publish("briefing.joined", {"occurrence_id": occurrence_id, "site": code})

    async def on_status(self, code: str, msg: Any) -> None:
        """An agent reporting ``in_conference`` counts as joined (the conference manager's path:
        site_agent.media.endpoint sends it once its media connection is up)."""
        if getattr(msg, "state", None) != "in_conference":
            return
        for occurrence_id, _title in await asyncio.to_thread(store.open_occurrences_for, self.engine, code):
            await self.mark_joined(occurrence_id, code)

    async def _end(self, occ: BriefingOccurrence) -> None:
        assert occ.id is not None
        self._locks.pop(occ.id, None)
        got = await asyncio.to_thread(self._get, occ.id)
        assert got is not None
        fresh, _series = got
        if fresh.conference_id is not None:  # None: the conference never started (alerted at T0)
            try:
                await self.conferences.end(fresh.conference_id, ACTOR)
            except Exception:
                log.exception("occurrence %s: conference %s did not end cleanly", occ.id, fresh.conference_id)
        self.events.publish("briefing", {"occurrence_id": occ.id, "state": OccState.ENDED.value})
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
            # The end step ends the conference. ConferenceManager.extend is not called: the
            # conference of a briefing has no end of its own, and extending one from "none"
            # gives it an end ``minutes`` from now, before the briefing's new end.
            self._reschedule_end(occ)
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
        self.events.publish("briefing", {"occurrence_id": occurrence_id, "state": OccState.MISSED.value})
        self.events.publish("alert", {
            "source": "schedule", "severity": "critical", "occurrence_id": occurrence_id,
            "message": "การประชุมไม่ได้เริ่มตามกำหนด (ระบบไม่พร้อมในเวลา) / briefing missed: the hub was down at T0",
        })
        await audit.arecord(self.engine, actor=ACTOR, action="briefing.missed", target=f"occurrence:{occurrence_id}",
                            ok=False)

    async def anext_briefing(self, code: str, now: datetime) -> datetime | None:
        """Start of the site's next briefing not yet open: the alarms room's briefing lookup."""
        return await asyncio.to_thread(store.next_briefing, self.engine, code, now)

    async def reconcile(self) -> None:
        """At start: anything that should have opened more than the grace ago is missed."""
        for occurrence_id in await asyncio.to_thread(store.overdue, self.engine, utcnow() - self.grace):
            await self.mark_missed(occurrence_id)

    def on_job_event(self, event: JobExecutionEvent) -> None:
        """Listener on this app's own scheduler: a due step runs; a missed open marks it missed."""
        if event.code == EVENT_JOB_EXECUTED and isinstance(event.retval, StepDue):
            self._spawn(self.run_step(event.retval.occurrence_id, event.retval.step))
        elif event.code == EVENT_JOB_MISSED and event.job_id.endswith("-open"):
            occurrence_id = int(event.job_id.split("-")[1])
            self._spawn(self.mark_missed(occurrence_id))
        elif event.code == EVENT_JOB_ERROR:
            log.error("job %s failed: %r", event.job_id, event.exception)

    async def start(self) -> None:
        """Listen to the agents, start the timeline, settle what was missed while the hub was down."""
        self.scheduler.add_listener(self.on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        self.registry.add_message_handler("status", self.on_status)
        self.alarms.set_briefing_lookup(self.anext_briefing)
        self.scheduler.start()  # creates the job table on a fresh database
        # Overdue beyond the grace → missed. The scheduler's own catch-up cannot open them late
        # either: run_step checks the grace again before opening.
        await self.reconcile()

    async def close(self) -> None:
        self.scheduler.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
