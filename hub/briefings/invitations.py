"""The invitation a district receives: the iCalendar object and the Thai letter.

Calendar objects are built with the ``icalendar`` library following
``reference/icalendar-outlook.md``: METHOD on the calendar, one UID per
series, SEQUENCE raised on every change, RRULE with a UTC UNTIL, a VTIMEZONE
for every TZID, a 10-minute DISPLAY alarm on requests only, and
RECURRENCE-ID + STATUS:CANCELLED when one occurrence is cancelled.
The letters come from jinja2 templates in ``templates/email/``.

Every occurrence is told with its own date and time (a moved day, a later
change of the series time): the letter lists them one by one, and when each
occurrence has its own access link every occurrence is an override VEVENT
(RECURRENCE-ID) with its own DESCRIPTION and URL. :func:`compose` makes the
whole mailing from plain data; the access links come from the guests room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import jinja2
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from hub.briefings.model import (
    WEEKDAY_CODES,
    Occurrence,
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
class Recipient:
    """One address that gets the mail: a district's contact, or an extra (guest) address."""

    email: str
    contact_name: str = ""  # e.g. "ปลัดอำเภอ (ฝ่ายความมั่นคง)", the same in all 20 districts
    site_code: str = ""  # "" for an extra address (a guest)
    district_th: str = ""  # "กุดจับ", without "อำเภอ"
    room: str = ""


def attendee_person(r: Recipient) -> Person:
    """The ATTENDEE's display name names the district: the 20 contacts share one job title,
    and Outlook's attendee list shows only the CN."""
    if not r.site_code or not r.district_th:
        return Person(r.email, r.contact_name)
    district = district_phrase(r.district_th)
    if not r.contact_name:
        return Person(r.email, district)
    if district in r.contact_name:
        return Person(r.email, r.contact_name)
    return Person(r.email, f"{r.contact_name} {district}")


GUEST_LABEL = "ผู้เข้าร่วม"  # what the scheduler passes as the "district" of an extra address


def district_phrase(name: str) -> str:
    """``กุดจับ`` → ``อำเภอกุดจับ`` (Thai names a district with its title); guests → ``ท่าน``."""
    name = name.strip()
    if not name or name == GUEST_LABEL:
        return "ท่าน"
    return name if name.startswith("อำเภอ") else f"อำเภอ{name}"


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
    # The recipient's own access link for each occurrence (by its key date); an occurrence
    # without one uses ``access_url``. Given links make one override VEVENT per occurrence.
    links: Mapping[date, str] = field(default_factory=dict)
    # For a district's recipient: the guest link of each occurrence, to pass on to the
    # agencies and partners the district invites (seed 003).
    guest_links: Mapping[date, str] = field(default_factory=dict)
    opens_before_min: int = 30  # the guests room's join window lead, stated in the letter

    def link(self, key: date) -> str:
        return self.links.get(key, self.access_url)


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


def when_th(spec: SeriesSpec, start: datetime, end: datetime) -> str:
    """``วันอาทิตย์ที่ 12 เมษายน 2570 เวลา 09:00–09:30 น.`` in the series' zone, Buddhist Era."""
    a, b = start.astimezone(spec.zone), end.astimezone(spec.zone)
    return f"{format_thai_date(a.date())} เวลา {a:%H:%M}–{b:%H:%M} น."


def when_en(spec: SeriesSpec, start: datetime, end: datetime) -> str:
    a, b = start.astimezone(spec.zone), end.astimezone(spec.zone)
    return f"{a:%A %d %B %Y}, {a:%H:%M}–{b:%H:%M} ({spec.tz})"


def description(spec: SeriesSpec, ctx: InviteContext, occ: Occurrence | None = None) -> str:
    """Plain text of one calendar entry: its own date and time, how to join, whom to call.

    Without ``occ`` it describes the master event, i.e. the rule's own slot (the series
    time); moved days are overrides and describe themselves.
    """
    if occ is None:
        key = base_dates(spec)[0] if spec.recurrence is not Recurrence.ONCE else spec.start_date
        start = local_start(spec, key) if spec.recurrence is not Recurrence.ONCE else occurrences(spec)[0].start
        end = start + spec.duration
        if spec.recurrence is Recurrence.ONCE:
            when = [when_th(spec, start, end), when_en(spec, start, end)]
        else:
            a, b = start.astimezone(spec.zone), end.astimezone(spec.zone)
            first, last = format_thai_date(spec.start_date), format_thai_date(spec.end_date)
            when = [
                f"{first} ถึง {last} เวลา {a:%H:%M}–{b:%H:%M} น. (วันที่เลื่อนแจ้งแยกแต่ละวัน)",
                f"{spec.start_date:%d %B %Y} to {spec.end_date:%d %B %Y}, {a:%H:%M}–{b:%H:%M} ({spec.tz})",
            ]
        link = ctx.link(key)
    else:
        when = [when_th(spec, occ.start, occ.end), when_en(spec, occ.start, occ.end)]
        if occ.moved and occ.original_start is not None:
            orig = occ.original_start.astimezone(spec.zone)
            when.append(f"(เลื่อนจาก {format_thai_date(orig.date())} เวลา {orig:%H:%M} น. / moved from {orig:%d %B %Y} {orig:%H:%M})")
        link = ctx.link(occ.key)
    lines = [spec.title, *when]
    if ctx.location:
        lines.append(f"ห้องประชุม / Room: {ctx.location}")
    lines += [
        f"ลิงก์เข้าร่วม / Access link: {link}",
        f"รหัสผ่าน / Passcode: {ctx.passcode}",
        DECREE_TH,
        DECREE_EN,
        f"แจ้งเหตุขัดข้อง / Fault contact: {ctx.fault_phone}",
    ]
    return "\n".join(lines)


def _base_event(
    spec: SeriesSpec, ctx: InviteContext, start: datetime, occ: Occurrence | None = None
) -> Event:
    ev = Event()
    ev.add("uid", ctx.uid)
    ev.add("dtstamp", ctx.stamp)
    ev.add("dtstart", start)
    ev.add("dtend", start + spec.duration)
    ev.add("summary", spec.title)
    ev.add("description", description(spec, ctx, occ))
    if ctx.location:
        ev.add("location", ctx.location)
    if occ is not None:
        ev.add("url", ctx.link(occ.key))
    else:
        first = base_dates(spec)[0] if spec.recurrence is not Recurrence.ONCE else spec.start_date
        ev.add("url", ctx.link(first))
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
    rule = _rrule(spec)
    occ = occurrences(spec)
    if rule is None:
        # A one-off meeting: its only occurrence is the event (moved or not).
        single = _base_event(spec, ctx, _master_start(spec), occ[0])
        single.add("status", "CONFIRMED")
        single.add_component(_alarm(spec))
        cal.add_component(single)
        return _finish(cal, spec)
    master = _base_event(spec, ctx, _master_start(spec))
    if rule is not None:
        master.add("rrule", rule)
        if spec.skips:
            master.add("exdate", [local_start(spec, d) for d in sorted(spec.skips)])
    master.add("status", "CONFIRMED")
    master.add_component(_alarm(spec))
    cal.add_component(master)
    # An occurrence that differs from the rule's slot is an override of the same UID, matched
    # by RECURRENCE-ID: a moved day, or (with per-occurrence links) every day, so that each
    # entry in the recipient's calendar carries its own link and its own time.
    for o in sorted(occ, key=lambda o: o.key):
        if not (o.moved or o.key in ctx.links):
            continue
        ev = _base_event(spec, ctx, o.start.astimezone(spec.zone), o)
        ev.add("recurrence-id", local_start(spec, o.key))
        ev.add("status", "CONFIRMED")
        ev.add_component(_alarm(spec))
        cal.add_component(ev)
    return _finish(cal, spec)


def cancel_occurrence_calendar(spec: SeriesSpec, ctx: InviteContext, key: date) -> Calendar:
    """METHOD:CANCEL for one occurrence (RECURRENCE-ID = its original slot), no alarm."""
    cal = _calendar("CANCEL")
    moved = spec.moves.get(key)
    start = moved.astimezone(spec.zone) if moved is not None else local_start(spec, key)
    original = local_start(spec, key).astimezone(UTC)
    occ = Occurrence(key, start.astimezone(UTC), start.astimezone(UTC) + spec.duration,
                     moved is not None, original if moved is not None else None)
    ev = _base_event(spec, ctx, start, occ)
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


def _schedule_rows(spec: SeriesSpec, ctx: InviteContext) -> list[dict[str, Any]]:
    """One row per occurrence, each with its own date, time and link (the letter lists them all)."""
    rows: list[dict[str, Any]] = []
    for o in occurrences(spec):
        a, b = o.start.astimezone(spec.zone), o.end.astimezone(spec.zone)
        moved_from = ""
        moved_from_en = ""
        if o.moved and o.original_start is not None:
            orig = o.original_start.astimezone(spec.zone)
            moved_from = f"เลื่อนจาก{format_thai_date(orig.date())} เวลา {orig:%H:%M} น."
            moved_from_en = f"moved from {orig:%A %d %B %Y} {orig:%H:%M}"
        rows.append({
            "date_th": format_thai_date(a.date()),
            "date_en": f"{a:%A %d %B %Y}",
            "start_hm": f"{a:%H:%M}",
            "end_hm": f"{b:%H:%M}",
            "url": ctx.link(o.key),
            "guest_url": ctx.guest_links.get(o.key, ""),
            "moved_from_th": moved_from,
            "moved_from_en": moved_from_en,
        })
    return rows


def render_letter(
    kind: Kind,
    spec: SeriesSpec,
    ctx: InviteContext,
    *,
    recipient: Person,
    district_name: str,
    cancelled_date: date | None = None,
) -> Letter:
    """Thai first, English second; dates in Buddhist Era, times in the series' zone.

    Each occurrence is stated with its own time: one series time for all would be wrong
    as soon as a day is moved or the series time changes after the first letter.
    """
    occ = occurrences(spec)
    first = occ[0].start.astimezone(spec.zone) if occ else local_start(spec, spec.start_date)
    last = occ[-1].start.astimezone(spec.zone) if occ else first
    rows = _schedule_rows(spec, ctx)
    slots = {(r["start_hm"], r["end_hm"]) for r in rows}
    one_time = len(slots) == 1
    start_hm, end_hm = next(iter(slots)) if one_time else ("", "")
    cancelled_when_th = cancelled_when_en = ""
    if cancelled_date is not None:
        moved = spec.moves.get(cancelled_date)
        c_start = moved.astimezone(spec.zone) if moved is not None else local_start(spec, cancelled_date)
        cancelled_when_th = when_th(spec, c_start, c_start + spec.duration)
        cancelled_when_en = when_en(spec, c_start, c_start + spec.duration)
    values: dict[str, Any] = {
        "kind": kind,
        "title": spec.title,
        "recipient": recipient,
        "invitee_th": district_phrase(district_name),
        "is_district": district_phrase(district_name) != "ท่าน",
        "organizer": ctx.organizer,
        "first_date_th": format_thai_date(first.date()),
        "last_date_th": format_thai_date(last.date()),
        "single_day": first.date() == last.date(),
        "count": len(occ),
        "one_time": one_time,
        "start_hm": start_hm,
        "end_hm": end_hm,
        "tz": spec.tz,
        "first_date_en": f"{first:%A %d %B %Y}",
        "last_date_en": f"{last:%A %d %B %Y}",
        "schedule": rows,
        "passcode": ctx.passcode,
        "room": ctx.location,
        "fault_phone": ctx.fault_phone,
        "decree_th": DECREE_TH,
        "decree_en": DECREE_EN,
        "sequence": ctx.sequence,
        "opens_before_min": ctx.opens_before_min,
        "cancelled_when_th": cancelled_when_th,
        "cancelled_when_en": cancelled_when_en,
        "skipped_th": [format_thai_date(d) for d in sorted(spec.skips)],
        "skipped_en": [f"{d:%A %d %B %Y}" for d in sorted(spec.skips)],
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


# --- the whole mailing ------------------------------------------------------------------


class AccessLinks(Protocol):
    """Where the access links come from (the guests room implements it:
    ``hub.guests.service.GuestService.links_for_series``). Keyed by site code ("" = the guest
    link), then by occurrence key date. ``session`` is the caller's open transaction."""

    def __call__(self, series_id: int, session: Any = None) -> Mapping[str, Mapping[date, str]]: ...


@dataclass(frozen=True)
class Mailing:
    """One e-mail ready for the outbox."""

    kind: Kind
    to: Person
    # RFC 6047: the organizer sends a REQUEST/CANCEL. Outlook treats a From that differs
    # from ORGANIZER as a forward ("on behalf of"), so From is the ORGANIZER.
    sender: Person
    site_code: str
    subject: str
    text: str
    html: str
    ics: str
    method: str


def compose(
    kind: Kind,
    spec: SeriesSpec,
    *,
    uid: str,
    sequence: int,
    passcode: str,
    organizer: Person,
    fault_phone: str,
    recipients: Sequence[Recipient],
    links: Mapping[str, Mapping[date, str]],
    fallback_url: str,
    stamp: datetime,
    cancelled: date | None = None,
    opens_before_min: int = 30,
) -> list[Mailing]:
    """Every mail of one change to a series: the calendar and the letter for each recipient.

    ``links[site_code]`` holds that district's own link per occurrence key; ``links[""]``
    the guest link, which extra addresses get and districts get to pass on.
    """
    attendees = tuple(dict.fromkeys(attendee_person(r) for r in recipients))
    guest_links = links.get("", {})
    out: list[Mailing] = []
    for r in recipients:
        ctx = InviteContext(
            uid=uid,
            sequence=sequence,
            access_url=fallback_url,
            passcode=passcode,
            location=r.room,
            fault_phone=fault_phone,
            organizer=organizer,
            attendees=attendees,
            stamp=stamp,
            links=links.get(r.site_code, {}),
            guest_links=guest_links if r.site_code else {},
            opens_before_min=opens_before_min,
        )
        if kind == "cancel" and cancelled is not None:
            cal = cancel_occurrence_calendar(spec, ctx, cancelled)
        elif kind == "cancel":
            cal = cancel_series_calendar(spec, ctx)
        else:
            cal = request_calendar(spec, ctx)
        person = attendee_person(r)
        letter = render_letter(
            kind, spec, ctx, recipient=person, district_name=r.district_th or GUEST_LABEL,
            cancelled_date=cancelled,
        )
        out.append(Mailing(
            kind=kind, to=person, sender=organizer, site_code=r.site_code, subject=letter.subject,
            text=letter.text, html=letter.html, ics=cal.to_ical().decode("utf-8"),
            method=str(cal["METHOD"]),
        ))
    return out
