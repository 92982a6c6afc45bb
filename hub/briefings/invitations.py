"""The invitation a district receives: the iCalendar object and the Thai letter.

Calendar objects are built with the ``icalendar`` library following
``reference/icalendar-outlook.md``: METHOD on the calendar, one UID per
series, SEQUENCE raised on every change, RRULE with a UTC UNTIL, a VTIMEZONE
for every TZID, a 10-minute DISPLAY alarm on requests only, and
RECURRENCE-ID + STATUS:CANCELLED when one occurrence is cancelled.
The letters come from jinja2 templates in ``templates/email/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jinja2
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from hub.briefings.model import (
    WEEKDAY_CODES,
    Recurrence,
    SeriesSpec,
    base_dates,
    format_thai_date,
    format_thai_datetime,
    local_start,
    occurrences,
)
from hub.mail.store import MailOutbox
from hub.paths import templates_dir

PRODID = "-//Salaklang//Udon Thani briefings//TH"
ALARM_BEFORE = timedelta(minutes=10)
DECREE_TH = (
    "การประชุมนี้เป็นการประชุมผ่านสื่ออิเล็กทรอนิกส์ "
    "ตามพระราชกำหนดว่าด้วยการประชุมผ่านสื่ออิเล็กทรอนิกส์ พ.ศ. 2563"
)
DECREE_EN = (
    "This meeting is held electronically under the Emergency Decree on "
    "Electronic Meetings B.E. 2563 (2020)."
)

Kind = Literal["invitation", "update", "cancel"]
Method = Literal["REQUEST", "CANCEL"]


@dataclass(frozen=True)
class Person:
    email: str
    name: str = ""


@dataclass(frozen=True)
class InviteContext:
    """What the calendar and the letter need besides the series itself."""

    uid: str  # stable for the life of the series
    sequence: int
    access_url: str
    passcode: str
    location: str  # the recipient district's meeting room
    fault_phone: str
    organizer: Person
    attendees: tuple[Person, ...]
    stamp: datetime  # DTSTAMP, aware UTC


# --- calendar objects ---------------------------------------------------------------


def _calendar(method: Method) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add("calscale", "GREGORIAN")
    return cal


def _address(person: Person, *, attendee: bool) -> vCalAddress:
    addr = vCalAddress(f"mailto:{person.email}")
    if person.name:
        addr.params["CN"] = vText(person.name)
    if attendee:
        addr.params["CUTYPE"] = "INDIVIDUAL"
        addr.params["ROLE"] = "REQ-PARTICIPANT"
        addr.params["PARTSTAT"] = "NEEDS-ACTION"
        addr.params["RSVP"] = "TRUE"
    return addr


def description(spec: SeriesSpec, ctx: InviteContext) -> str:
    """Plain text shown in the calendar entry: how to join, and whom to call."""
    first = occurrences(spec)[0].start.astimezone(spec.zone)
    return "\n".join(
        [
            spec.title,
            f"เวลา {first:%H:%M} น. ({spec.tz}) / {first:%H:%M} {spec.tz}",
            f"ห้องประชุม / Room: {ctx.location}" if ctx.location else "",
            f"ลิงก์เข้าร่วม / Access link: {ctx.access_url}",
            f"รหัสผ่าน / Passcode: {ctx.passcode}",
            DECREE_TH,
            DECREE_EN,
            f"แจ้งเหตุขัดข้อง / Fault contact: {ctx.fault_phone}",
        ]
    ).replace("\n\n", "\n")


def _base_event(spec: SeriesSpec, ctx: InviteContext, start: datetime) -> Event:
    ev = Event()
    ev.add("uid", ctx.uid)
    ev.add("dtstamp", ctx.stamp)
    ev.add("dtstart", start)
    ev.add("dtend", start + spec.duration)
    ev.add("summary", spec.title)
    ev.add("description", description(spec, ctx))
    if ctx.location:
        ev.add("location", ctx.location)
    ev.add("url", ctx.access_url)
    ev["organizer"] = _address(ctx.organizer, attendee=False)
    for person in ctx.attendees:
        ev.add("attendee", _address(person, attendee=True))
    # RFC 5546: SEQUENCE may be left out only while it is 0; always writing it is simpler.
    ev.add("sequence", ctx.sequence)
    return ev


def _alarm(spec: SeriesSpec) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"อีก 10 นาที: {spec.title} / Briefing in 10 minutes")
    alarm.add("trigger", -ALARM_BEFORE)
    return alarm


def _rrule(spec: SeriesSpec) -> dict[str, Any] | None:
    if spec.recurrence is Recurrence.ONCE:
        return None
    last = base_dates(spec)[-1]
    # With a TZID on DTSTART, UNTIL must be UTC (RFC 5545 §3.3.10).
    until = local_start(spec, last).astimezone(UTC)
    if spec.recurrence is Recurrence.DAILY:
        return {"FREQ": "DAILY", "UNTIL": until}
    if spec.recurrence is Recurrence.WEEKLY:
        return {"FREQ": "WEEKLY", "BYDAY": WEEKDAY_CODES[spec.start_date.weekday()], "UNTIL": until}
    return {"FREQ": "WEEKLY", "BYDAY": [WEEKDAY_CODES[w] for w in sorted(spec.weekdays)], "UNTIL": until}


def _master_start(spec: SeriesSpec) -> datetime:
    if spec.recurrence is Recurrence.ONCE:
        return occurrences(spec)[0].start.astimezone(spec.zone)
    # DTSTART is the first instance the rule makes; skipped ones go to EXDATE.
    return local_start(spec, base_dates(spec)[0])


def _finish(cal: Calendar, spec: SeriesSpec) -> Calendar:
    first = min(spec.start_date, *(m.date() for m in spec.moves.values())) if spec.moves else spec.start_date
    cal.add_missing_timezones(first_date=first - timedelta(days=366), last_date=spec.end_date + timedelta(days=366))
    return cal


def request_calendar(spec: SeriesSpec, ctx: InviteContext) -> Calendar:
    """METHOD:REQUEST for the whole series (first send and every update)."""
    cal = _calendar("REQUEST")
    master = _base_event(spec, ctx, _master_start(spec))
    rule = _rrule(spec)
    if rule is not None:
        master.add("rrule", rule)
        if spec.skips:
            master.add("exdate", [local_start(spec, d) for d in sorted(spec.skips)])
    master.add("status", "CONFIRMED")
    master.add_component(_alarm(spec))
    cal.add_component(master)
    if rule is not None:
        # A moved occurrence is an override of the same UID, matched by RECURRENCE-ID.
        for key, new_start in sorted(spec.moves.items()):
            if key in spec.skips:
                continue
            ev = _base_event(spec, ctx, new_start.astimezone(spec.zone))
            ev.add("recurrence-id", local_start(spec, key))
            ev.add("status", "CONFIRMED")
            ev.add_component(_alarm(spec))
            cal.add_component(ev)
    return _finish(cal, spec)


def cancel_occurrence_calendar(spec: SeriesSpec, ctx: InviteContext, key: date) -> Calendar:
    """METHOD:CANCEL for one occurrence (RECURRENCE-ID = its original slot), no alarm."""
    cal = _calendar("CANCEL")
    moved = spec.moves.get(key)
    start = moved.astimezone(spec.zone) if moved is not None else local_start(spec, key)
    ev = _base_event(spec, ctx, start)
    ev.add("recurrence-id", local_start(spec, key))
    ev.add("status", "CANCELLED")
    cal.add_component(ev)
    return _finish(cal, spec)


def cancel_series_calendar(spec: SeriesSpec, ctx: InviteContext) -> Calendar:
    """METHOD:CANCEL without RECURRENCE-ID: every occurrence goes."""
    cal = _calendar("CANCEL")
    ev = _base_event(spec, ctx, _master_start(spec))
    rule = _rrule(spec)
    if rule is not None:
        ev.add("rrule", rule)
    ev.add("status", "CANCELLED")
    cal.add_component(ev)
    return _finish(cal, spec)


# --- the letter -----------------------------------------------------------------------


_env: jinja2.Environment | None = None


def _jinja() -> jinja2.Environment:
    global _env
    if _env is None:
        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir() / "email"),
            autoescape=jinja2.select_autoescape(["html.j2"]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
    return _env


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str


def render_letter(
    kind: Kind,
    spec: SeriesSpec,
    ctx: InviteContext,
    *,
    recipient: Person,
    district_name: str,
    cancelled_date: date | None = None,
) -> Letter:
    """Thai first, English second; dates in Buddhist Era, times in the series' zone."""
    occ = occurrences(spec)
    first = occ[0].start.astimezone(spec.zone) if occ else local_start(spec, spec.start_date)
    last = occ[-1].start.astimezone(spec.zone) if occ else first
    values: dict[str, Any] = {
        "kind": kind,
        "title": spec.title,
        "recipient": recipient,
        "district_name": district_name,
        "organizer": ctx.organizer,
        "first_date_th": format_thai_date(first.date()),
        "last_date_th": format_thai_date(last.date()),
        "single_day": first.date() == last.date(),
        "count": len(occ),
        "start_hm": f"{first:%H:%M}",
        "end_hm": f"{first + spec.duration:%H:%M}",
        "tz": spec.tz,
        "first_date_en": f"{first:%A %d %B %Y}",
        "last_date_en": f"{last:%A %d %B %Y}",
        "access_url": ctx.access_url,
        "passcode": ctx.passcode,
        "room": ctx.location,
        "fault_phone": ctx.fault_phone,
        "decree_th": DECREE_TH,
        "decree_en": DECREE_EN,
        "sequence": ctx.sequence,
        "cancelled_date_th": format_thai_date(cancelled_date) if cancelled_date else "",
        "cancelled_date_en": f"{cancelled_date:%A %d %B %Y}" if cancelled_date else "",
        "skipped_th": [format_thai_date(d) for d in sorted(spec.skips)],
        "moved_th": [
            (format_thai_date(k), format_thai_date(v.astimezone(spec.zone).date()), f"{v.astimezone(spec.zone):%H:%M}")
            for k, v in sorted(spec.moves.items())
        ],
    }
    env = _jinja()
    subject = env.get_template(f"{kind}.subject.j2").render(values).strip()
    text = env.get_template(f"{kind}.txt.j2").render(values)
    html = env.get_template(f"{kind}.html.j2").render(values)
    return Letter(subject=subject, text=text, html=html)


def outbox_json(row: MailOutbox, tz: str) -> dict[str, Any]:
    """One invitation mail as the invitations list shows it (times local, Buddhist Era in Thai)."""

    def local(dt: datetime | None) -> str | None:
        return dt.astimezone(ZoneInfo(tz)).isoformat() if dt else None

    return {
        "id": row.id,
        "kind": row.kind,
        "series_id": row.series_id,
        "site_code": row.site_code,
        "to": row.to_addr,
        "subject": row.subject,
        "method": row.ics_method,
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": local(row.created_at),
        "next_attempt_at": local(row.next_attempt_at) if row.state == "queued" else None,
        "sent_at": local(row.sent_at),
        "sent_at_th": format_thai_datetime(row.sent_at, tz) if row.sent_at else "",
    }
