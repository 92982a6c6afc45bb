"""Building reports from what was recorded, and the monthly job that mails them.

:func:`build_monthly` reads the other rooms' records through
:mod:`hub.reports.store` and hands them to the pure :mod:`hub.reports.model`.
:class:`Reports` is the running room: it adds one cron job (07:00 on the
1st, the hub's time zone) to the briefings room's APScheduler instance —
the hub runs one scheduler — and mails the files through the outbox, whose
worker retries on SMTP failures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from hub.attendance.model import REASON_LABELS
from hub.attendance.store import intervals_for_occurrence
from hub.db import session_scope
from hub.mail.service import Outbox
from hub.mail.store import enqueue
from hub.models import utcnow
from hub.reports import cache as render_cache
from hub.reports import model as m
from hub.reports import render, store
from hub.settings import Settings

log = logging.getLogger("hub.reports")

JOB_ID = "reports-monthly"
JOB_STORE = "reports"  # in memory: the job is fixed and re-added at every start; catch-up is ours


def rules_from(settings: Settings) -> m.Rules:
    return m.Rules(
        travel_rate_thb_per_km=settings.reports_travel_rate_thb_per_km,
        people_per_district=settings.reports_people_per_district,
        travel_speed_kmh=settings.reports_travel_speed_kmh,
        late_after=timedelta(seconds=settings.schedule_late_after_s),
        early_before=timedelta(seconds=settings.reports_left_early_s),
    )


def local_midnight(d: date, tz: str) -> datetime:
    return datetime.combine(d, time(0), ZoneInfo(tz)).astimezone(UTC)


def month_bounds(month: m.Month, tz: str) -> tuple[datetime, datetime]:
    return local_midnight(month.first, tz), local_midnight(month.next().first, tz)


def check_month(month: m.Month, sites: Sequence[store.SiteRow], now: datetime, tz: str) -> None:
    """Refuse months that cannot be reported: not over yet, or before any billing started."""
    today = now.astimezone(ZoneInfo(tz)).date()
    if month.first > today:
        raise m.ReportError(f"เดือน {month} ยังมาไม่ถึง / {month} is in the future")
    if month.next().first > today:
        raise m.ReportError(f"เดือน {month} ยังไม่สิ้นสุด / {month} is not over yet; reports are for finished months")
    if not sites:
        raise m.ReportError("ไม่มีอำเภอในบัญชี / no districts in the inventory", "inventory")
    start = min(s.district.billing_start for s in sites)
    if month.last < start:
        raise m.ReportError(
            f"เดือน {month} อยู่ก่อนเริ่มคิดค่าบริการ ({start.isoformat()}) / {month} is before billing started ({start})")


def link_months(engine: sa.Engine, sites: Sequence[store.SiteRow], month: m.Month, tz: str,
                now: datetime) -> dict[int, m.LinkMonth]:
    lo_month, hi = month_bounds(month, tz)
    by_start: dict[date, list[store.SiteRow]] = {}
    for s in sites:
        window = m.billed_window(s.district, month)
        if window is not None:
            by_start.setdefault(window[0], []).append(s)
    snapshot = store.link_month_snapshot(engine, str(month))
    fresh: list[store.ReportLinkMonth] = []
    out: dict[int, m.LinkMonth] = {}
    for first, group in by_start.items():
        lo = local_midnight(first, tz)
        frozen = {s.site_id for s in group if s.site_id in snapshot and snapshot[s.site_id].rtt_frozen}
        sums = store.rollup_sums(engine, [s.site_id for s in group], lo, hi,
                                 median_for=[s.site_id for s in group if s.site_id not in frozen])
        computed = store.compute_link_months(engine, [s.site_id for s in group if s.site_id not in snapshot], lo, hi)
        for s in group:
            raw = snapshot.get(s.site_id) or computed[s.site_id]
            r = sums.get(s.site_id)
            median = raw.rtt_median_ms if s.site_id in frozen else (r.rtt_median if r else None)
            if s.site_id in computed:
                raw.rtt_median_ms, raw.rtt_frozen = median, True
                fresh.append(raw)
            out[s.site_id] = m.LinkMonth(
                minutes_billed=((month.last - first).days + 1) * 1440,
                minutes_green=r.green if r else 0, minutes_amber=r.amber if r else 0, minutes_red=r.red if r else 0,
                rtt_median_ms=round(median, 1) if median is not None else None,
                probes_sent=r.sent if r else 0, probes_lost=r.lost if r else 0,
                p95_down_bps=raw.p95_down_bps, p95_up_bps=raw.p95_up_bps,
                hub_polls=raw.hub_polls, hub_polls_up=raw.hub_polls_up,
            )
    # Freeze a closed month's raw-sample figures (raw SNMP is purged after its retention) and its median
    # RTT (ranking every hourly row was most of a national build; migration 0103_report_rollups).
    if fresh and hi <= now:
        store.save_link_months(engine, str(month), fresh)
    del lo_month
    return out


def _lines(engine: sa.Engine, sites: Sequence[store.SiteRow], month: m.Month, rules: m.Rules, tz: str,
           now: datetime) -> tuple[list[m.DistrictLine], list[m.Briefing]]:
    lo, hi = month_bounds(month, tz)
    briefings = store.briefings(engine, lo, hi)
    intervals = store.intervals(engine, lo, hi, until=min(hi, now))
    floors = store.floors(engine, lo, hi, until=min(hi, now))
    links = link_months(engine, sites, month, tz, now)
    # Grouped by site once: at national size each district then sees only its own records.
    by_site: dict[str, tuple[list[m.Briefing], list[m.Interval], list[m.Interval]]] = {
        s.district.code: ([], [], []) for s in sites}
    for b in briefings:
        for code in b.districts:
            if code in by_site:
                by_site[code][0].append(b)
    for i in intervals:
        if i.site in by_site:
            by_site[i.site][1].append(i)
    for f in floors:
        if f.site in by_site:
            by_site[f.site][2].append(f)
    lines = []
    for s in sites:
        if m.billed_window(s.district, month) is None:
            continue  # not yet connected that month: no line, no fee
        mine, spans, holds = by_site[s.district.code]
        lines.append(m.district_line(s.district, month, mine, spans, holds, links[s.site_id], rules))
    return lines, briefings


def build_monthly(engine: sa.Engine, settings: Settings, month: m.Month, now: datetime) -> m.MonthlyReport:
    tz = settings.timezone
    sites = store.districts(engine)
    check_month(month, sites, now, tz)
    rules = rules_from(settings)
    lines, briefings = _lines(engine, sites, month, rules, tz, now)
    prev = month.prev()
    previous = None
    if any(m.billed_window(s.district, prev) is not None for s in sites):
        previous = m.totals_of(_lines(engine, sites, prev, rules, tz, now)[0])
    totals = m.totals_of(lines)
    th, en = store.province_names(engine)
    return m.MonthlyReport(month=month, province_th=th, province_en=en, generated_at=now, lines=tuple(lines),
                           totals=totals, previous=previous, change=m.change_of(totals, previous), rules=rules,
                           briefings=tuple(briefings))


# --- the series grid and one briefing ----------------------------------------------------------


@dataclass(frozen=True)
class SeriesGrid:
    title: str
    days: tuple[date, ...]
    rows: tuple[tuple[m.District, tuple[str, ...], dict[str, int]], ...]  # district, cell per day, counts
    day_totals: tuple[dict[str, int], ...]


GRID_WORDS = ("on_time", "late", "dropped", "absent")


def build_series(engine: sa.Engine, settings: Settings, first: date, last: date, now: datetime,
                 series_id: int | None = None) -> SeriesGrid:
    """District × day grid of on time / late / dropped / absent over ``first``..``last``."""
    if last < first:
        raise m.ReportError("วันสิ้นสุดอยู่ก่อนวันเริ่ม / 'to' is before 'from'", "to")
    if (last - first).days > 62:
        raise m.ReportError("ช่วงยาวเกิน 62 วัน / at most 62 days", "to")
    tz = settings.timezone
    lo, hi = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)
    rules = rules_from(settings)
    briefings = store.briefings(engine, lo, hi)
    if series_id is not None:
        ids = store.occurrence_ids_of_series(engine, series_id)
        briefings = [b for b in briefings if b.occurrence_id in ids]
    intervals = store.intervals(engine, lo, hi, until=min(hi, now))
    zone = ZoneInfo(tz)
    days = tuple(sorted({b.starts_at.astimezone(zone).date() for b in briefings}))
    title = briefings[0].title if briefings else ""
    rows = []
    day_totals: list[dict[str, int]] = [dict.fromkeys(GRID_WORDS, 0) for _ in days]
    for s in store.districts(engine):
        cells = []
        counts = dict.fromkeys(GRID_WORDS, 0)
        for i, day in enumerate(days):
            todays = [b for b in briefings if b.starts_at.astimezone(zone).date() == day and s.district.code in b.districts]
            if not todays:
                cells.append("")
                continue
            # Several briefings on one day: the worst of them is what the day shows.
            words = [m.grid_cell(m.attendance_of(b, s.district.code, intervals, rules)) for b in todays]
            word = max(words, key=GRID_WORDS.index)
            cells.append(word)
            counts[word] += 1
            day_totals[i][word] += 1
        if any(cells):
            rows.append((s.district, tuple(cells), counts))
    return SeriesGrid(title, days, tuple(rows), tuple(day_totals))


def build_briefing(engine: sa.Engine, settings: Settings, occurrence_id: int) -> dict[str, Any]:
    """Each district's join/leave intervals and floor grants in one briefing, and who spoke how long."""
    occ = store.occurrence(engine, occurrence_id)
    if occ is None:
        raise m.ReportError(f"ไม่พบการประชุม {occurrence_id} / no briefing {occurrence_id}", "id")
    briefing, names = occ
    spans, floors = intervals_for_occurrence(engine, occurrence_id)
    rules = rules_from(settings)
    sites: list[dict[str, Any]] = []
    for code in briefing.districts:
        mine = [m.Interval(occurrence_id, a.site_code, a.started_at, a.ended_at or briefing.ends_at, a.closed_reason)
                for a in spans if a.site_code == code]
        att = m.attendance_of(briefing, code, mine, rules)
        grants = [f for f in floors if f.site_code == code]
        spoke = sum(((f.ended_at or briefing.ends_at) - f.granted_at).total_seconds() for f in grants)
        sites.append({
            "code": code, "name_th": names.get(code, (code, code))[0], "name_en": names.get(code, (code, code))[1],
            "presence": att.presence.value, "left_early": att.left_early, "dropped": att.dropped,
            "seconds": round(att.seconds), "spoke_s": round(spoke),
            "intervals": [{"start": a.started_at.isoformat(), "end": a.ended_at.isoformat() if a.ended_at else None,
                           "opened": a.opened_reason, "closed": a.closed_reason,
                           "closed_th": REASON_LABELS.get(a.closed_reason or "", ("", ""))[0]}
                          for a in spans if a.site_code == code],
            "floor": [{"start": f.granted_at.isoformat(), "end": f.ended_at.isoformat() if f.ended_at else None,
                       "by": f.granted_by, "closed": f.closed_reason,
                       "seconds": round(((f.ended_at or briefing.ends_at) - f.granted_at).total_seconds())}
                      for f in grants],
        })
    return {"occurrence_id": occurrence_id, "title": briefing.title, "starts_at": briefing.starts_at.isoformat(),
            "ends_at": briefing.ends_at.isoformat(), "sites": sites,
            "speakers": sorted(({"code": x["code"], "name_th": x["name_th"], "seconds": x["spoke_s"]}
                                for x in sites if x["spoke_s"] > 0), key=lambda x: -x["seconds"])}


# --- the running room ------------------------------------------------------------------------


FORMATS = ("pdf", "xlsx", "csv")


class Reports:
    """The room at run time: the monthly job, runs, deliveries."""

    def __init__(self, engine: sa.Engine, settings: Settings, outbox: Outbox,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.outbox = outbox
        # Looked up at each call (not bound at import) so a test can move the hub's idea of "now".
        self.clock = clock or (lambda: utcnow())
        self._lock = asyncio.Lock()
        self.cache = render_cache.RenderCache(settings.data_dir / "cache" / "reports",
                                              settings.reports_cache_mb * 1024 * 1024)

    def render(self, report: m.MonthlyReport, fmt: str, lang: str) -> tuple[bytes, str, str]:
        """A report file through the render cache (the job fills it; later downloads are hits)."""
        return render_cache.render_cached(self.cache, report, fmt, lang, self.settings.timezone)

    def trigger(self) -> CronTrigger:
        return CronTrigger(day=1, hour=7, minute=0, timezone=ZoneInfo(self.settings.timezone))

    def install(self, scheduler: BaseScheduler) -> None:
        if JOB_STORE not in scheduler._jobstores:
            scheduler.add_jobstore("memory", alias=JOB_STORE)
        scheduler.add_job(self.monthly_job, self.trigger(), id=JOB_ID, jobstore=JOB_STORE, replace_existing=True,
                          misfire_grace_time=3600, coalesce=True)

    def next_run(self) -> datetime | None:
        # Strictly after now: at 07:00 on the 1st the run under way is not the next one.
        return self.trigger().get_next_fire_time(None, self.clock() + timedelta(seconds=1))

    def due_month(self, now: datetime) -> m.Month:
        """The month the job reports at ``now``: the one before the current local month."""
        local = now.astimezone(ZoneInfo(self.settings.timezone))
        return m.Month(local.year, local.month).prev()

    async def catch_up(self) -> None:
        """A hub that was down at 07:00 on the 1st sends the report when it comes back (once)."""
        now = self.clock()
        local = now.astimezone(ZoneInfo(self.settings.timezone))
        if local.day == 1 and local.hour < 7:
            return
        month = self.due_month(now)
        done = await asyncio.to_thread(store.has_good_run, self.engine, str(month), "schedule")
        if not done:
            sites = await asyncio.to_thread(store.districts, self.engine)
            if sites and month.last >= min(s.district.billing_start for s in sites):
                await self.run(month, "schedule")

    async def monthly_job(self) -> None:
        await self.run(self.due_month(self.clock()), "schedule")

    def recipients(self) -> list[str]:
        return [a.strip() for a in self.settings.reports_finance_to.split(",") if a.strip()]

    async def run(self, month: m.Month, trigger: str) -> int:
        """Build the report in every format, keep the files, queue one mail per finance address."""
        async with self._lock:
            lang = self.settings.reports_language
            run_id = await asyncio.to_thread(store.start_run, self.engine, str(month), trigger, lang)
            try:
                report = await asyncio.to_thread(build_monthly, self.engine, self.settings, month, self.clock())
                files = []
                for fmt in FORMATS:
                    body, mime, name = await asyncio.to_thread(self.render, report, fmt, lang)
                    files.append((name, mime, body))
                # Not mailed: the Reports page's preview of this month is then a cache hit too.
                await asyncio.to_thread(self.render, report, "html", lang)
            except Exception as exc:  # the run is shown failed with its reason on the Reports page
                log.exception("monthly report %s failed", month)
                await asyncio.to_thread(store.finish_run, self.engine, run_id, ok=False,
                                        error=f"{type(exc).__name__}: {exc}")
                return run_id
            # Files first, then the mails and their links in one transaction: the outbox worker
            # never sees a report mail whose attachments are not there yet.
            await asyncio.to_thread(store.finish_run, self.engine, run_id, ok=True, total=report.totals.total,
                                    files=files)
            outbox_ids = await asyncio.to_thread(self._queue_mail, run_id, report)
            self.outbox.wake()
            log.info("monthly report %s: run %s, %d mail(s) queued", month, run_id, len(outbox_ids))
            return run_id

    def _queue_mail(self, run_id: int, report: m.MonthlyReport) -> list[int]:
        subject, text, html = render.mail_body(report, self.settings.reports_language)
        ids: list[int] = []
        with session_scope(self.engine) as s:
            rows = [enqueue(s, kind="report", to_addr=addr, to_name="", subject=subject, text=text, html=html,
                            ics="", ics_method="") for addr in self.recipients()]
            s.flush()
            ids = [r.id for r in rows if r.id is not None]
            for oid in ids:
                s.add(store.ReportDelivery(run_id=run_id, outbox_id=oid))
        return ids

    def attachments(self, outbox_id: int) -> list[tuple[str, str, bytes]]:
        return store.attachments_for_outbox(self.engine, outbox_id)
