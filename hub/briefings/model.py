"""Briefing series and occurrences: the pure rules, no I/O.

A *series* (what the operator enters, in local time) expands to dated
*occurrences* (stored in UTC). Validation returns errors that name the
offending field, so the API can answer 4xx before anything is saved. Each
occurrence runs a timeline (readiness check, reminder, open, end) through the
small state machine at the bottom of this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date

MAX_RANGE_DAYS = 366
MAX_DURATION = timedelta(hours=12)
DEFAULT_TZ = "Asia/Bangkok"
LAYOUTS = ("speaker", "1+N", "2x2", "3x3", "4x5", "presentation")
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

SONGKRAN_TITLE = "ประชุมติดตามสถานการณ์ความปลอดภัยทางถนน ช่วงเทศกาลสงกรานต์"

# Deliberately strict and simple: an address the SMTP relay will take as-is.
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


class Recurrence(StrEnum):
    ONCE = "once"
    DAILY = "daily"  # every day between start_date and end_date
    WEEKDAYS = "weekdays"  # the chosen weekdays between the two dates
    WEEKLY = "weekly"  # the start date's weekday, every week


class SeriesError(ValueError):
    """Bad input, naming the field; ``message`` is Thai first, English second."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"error": self.message, "field": self.field}


@dataclass(frozen=True)
class SeriesSpec:
    """A validated series, in the zone the operator works in."""

    title: str
    organizer_name: str
    organizer_email: str
    districts: tuple[str, ...]
    start_date: date
    end_date: date
    start_time: time
    duration: timedelta
    recurrence: Recurrence = Recurrence.ONCE
    weekdays: frozenset[int] = frozenset()  # 0 = Monday, as date.weekday()
    tz: str = DEFAULT_TZ
    layout: str = "4x5"
    agenda: tuple[Mapping[str, Any], ...] = ()
    attendees: tuple[str, ...] = ()  # extra e-mail addresses besides district contacts
    skips: frozenset[date] = frozenset()
    moves: Mapping[date, datetime] = field(default_factory=dict)  # original date → new local start

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "organizer_name": self.organizer_name,
            "organizer_email": self.organizer_email,
            "districts": list(self.districts),
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "start_time": self.start_time.isoformat(),
            "duration_min": self.duration.total_seconds() / 60,
            "recurrence": self.recurrence.value,
            "weekdays": sorted(self.weekdays),
            "timezone": self.tz,
            "layout": self.layout,
            "agenda": [dict(a) for a in self.agenda],
            "attendees": list(self.attendees),
            "exceptions": {
                "skip": sorted(d.isoformat() for d in self.skips),
                "move": {d.isoformat(): v.isoformat() for d, v in sorted(self.moves.items())},
            },
        }


@dataclass(frozen=True)
class Occurrence:
    """One dated meeting of a series. ``key`` is its original date (stable id)."""

    key: date
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    moved: bool = False
    original_start: datetime | None = None  # aware UTC, the slot it had before a move


@dataclass(frozen=True)
class Booking:
    """An existing occurrence of another series that holds some districts."""

    series_id: int
    title: str
    districts: frozenset[str]
    start: datetime
    end: datetime


# --- expansion -----------------------------------------------------------------


def _series_dates(spec: SeriesSpec) -> list[date]:
    if spec.recurrence is Recurrence.ONCE:
        return [spec.start_date]
    days = (spec.end_date - spec.start_date).days
    out: list[date] = []
    for i in range(days + 1):
        d = spec.start_date + timedelta(days=i)
        if (
            spec.recurrence is Recurrence.DAILY
            or (spec.recurrence is Recurrence.WEEKDAYS and d.weekday() in spec.weekdays)
            or (spec.recurrence is Recurrence.WEEKLY and d.weekday() == spec.start_date.weekday())
        ):
            out.append(d)
    return out


def base_dates(spec: SeriesSpec) -> list[date]:
    """Dates the recurrence rule produces, before exceptions."""
    return _series_dates(spec)


def local_start(spec: SeriesSpec, d: date) -> datetime:
    return datetime.combine(d, spec.start_time, tzinfo=spec.zone)


def occurrences(spec: SeriesSpec) -> list[Occurrence]:
    """Every occurrence, exceptions applied, sorted by start."""
    out: list[Occurrence] = []
    for d in _series_dates(spec):
        if d in spec.skips:
            continue
        original = local_start(spec, d).astimezone(UTC)
        moved_to = spec.moves.get(d)
        if moved_to is not None:
            start = moved_to.astimezone(UTC)
            out.append(Occurrence(d, start, start + spec.duration, True, original))
        else:
            out.append(Occurrence(d, original, original + spec.duration))
    out.sort(key=lambda o: o.start)
    return out


# --- parsing and validation -------------------------------------------------------


def valid_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value)) and len(value) <= 254


def _req(raw: Mapping[str, Any], name: str) -> Any:
    value = raw.get(name)
    if value is None or value == "":
        raise SeriesError(name, f"ต้องระบุ {name} / {name} is required")
    return value


def _date(raw: Mapping[str, Any], name: str) -> date:
    value = _req(raw, name)
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise SeriesError(name, f"วันที่ไม่ถูกต้อง (YYYY-MM-DD) / not a date: {value!r}") from exc


def _time(value: Any, name: str) -> time:
    m = _TIME_RE.match(str(value))
    if not m:
        raise SeriesError(name, f"เวลาไม่ถูกต้อง (HH:MM) / not a time: {value!r}")
    return time(int(m[1]), int(m[2]), int(m[3] or 0))


def parse_series(
    raw: Mapping[str, Any],
    *,
    known_districts: Iterable[str],
    default_tz: str = DEFAULT_TZ,
) -> SeriesSpec:
    """Validate one series as the API receives it (local times). Raises :class:`SeriesError`."""
    if not isinstance(raw, Mapping):
        raise SeriesError("body", "ต้องเป็นออบเจกต์ JSON / body must be a JSON object")
    allowed = {
        "title", "organizer_name", "organizer_email", "districts", "start_date", "end_date",
        "start_time", "duration_min", "recurrence", "weekdays", "timezone", "layout",
        "agenda", "attendees", "exceptions",
    }  # fmt: skip
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SeriesError(unknown[0], f"ไม่รู้จักฟิลด์นี้ / unknown field {unknown[0]!r}")

    title = str(_req(raw, "title")).strip()
    if not title or len(title) > 200:
        raise SeriesError("title", "ชื่อการประชุมต้องมี 1–200 ตัวอักษร / title must be 1–200 characters")
    organizer_email = str(_req(raw, "organizer_email")).strip()
    if not valid_email(organizer_email):
        raise SeriesError("organizer_email", f"อีเมลไม่ถูกต้อง / malformed e-mail address: {organizer_email!r}")
    organizer_name = str(raw.get("organizer_name") or "").strip()[:200]

    attendees_raw = raw.get("attendees") or []
    if not isinstance(attendees_raw, list):
        raise SeriesError("attendees", "ต้องเป็นรายการ / must be a list of e-mail addresses")
    for a in attendees_raw:
        if not isinstance(a, str) or not valid_email(a.strip()):
            raise SeriesError("attendees", f"อีเมลไม่ถูกต้อง / malformed e-mail address: {a!r}")
    attendees = tuple(dict.fromkeys(a.strip() for a in attendees_raw))

    tz = str(raw.get("timezone") or default_tz)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SeriesError("timezone", f"ไม่รู้จักเขตเวลา / unknown time zone {tz!r}") from exc

    known = list(known_districts)
    districts_raw = raw.get("districts")
    if districts_raw == "all":
        districts = tuple(known)
    elif isinstance(districts_raw, list):
        districts = tuple(dict.fromkeys(str(d) for d in districts_raw))
    elif districts_raw is None:
        districts = ()
    else:
        raise SeriesError("districts", 'ต้องเป็นรายการรหัสอำเภอหรือ "all" / must be a list of codes or "all"')
    if not districts:
        raise SeriesError("districts", "ต้องเลือกอย่างน้อยหนึ่งอำเภอ / choose at least one district")
    known_set = set(known)
    for d in districts:
        if d not in known_set:
            raise SeriesError("districts", f"ไม่รู้จักอำเภอ / unknown district {d!r}")

    try:
        recurrence = Recurrence(str(raw.get("recurrence") or "once"))
    except ValueError as exc:
        raise SeriesError(
            "recurrence", "ต้องเป็น once, daily, weekdays หรือ weekly / must be once, daily, weekdays or weekly"
        ) from exc
    start_date = _date(raw, "start_date")
    end_date = start_date if recurrence is Recurrence.ONCE and not raw.get("end_date") else _date(raw, "end_date")
    if end_date < start_date:
        raise SeriesError("end_date", "วันสิ้นสุดอยู่ก่อนวันเริ่ม / end date is before the start date")
    if (end_date - start_date).days > MAX_RANGE_DAYS:
        raise SeriesError(
            "end_date", f"ช่วงวันที่เกิน {MAX_RANGE_DAYS} วัน / date range exceeds {MAX_RANGE_DAYS} days"
        )
    if recurrence is Recurrence.ONCE and end_date != start_date:
        raise SeriesError("end_date", "การประชุมครั้งเดียวต้องจบในวันเดียว / a one-off meeting has one date")

    weekdays: frozenset[int] = frozenset()
    if recurrence is Recurrence.WEEKDAYS:
        wd_raw = raw.get("weekdays")
        if not isinstance(wd_raw, list) or not wd_raw:
            raise SeriesError("weekdays", "เลือกวันในสัปดาห์ / choose weekdays (0=Monday … 6=Sunday)")
        for w in wd_raw:
            if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= 6:
                raise SeriesError("weekdays", f"วันในสัปดาห์ไม่ถูกต้อง / weekday must be 0–6, got {w!r}")
        weekdays = frozenset(wd_raw)

    start_time = _time(_req(raw, "start_time"), "start_time")
    duration_raw = _req(raw, "duration_min")
    if not isinstance(duration_raw, int | float) or isinstance(duration_raw, bool):
        raise SeriesError("duration_min", "ต้องเป็นตัวเลข / must be a number of minutes")
    duration = timedelta(minutes=float(duration_raw))
    if duration <= timedelta(0):
        raise SeriesError("duration_min", "เวลาสิ้นสุดอยู่ก่อนเวลาเริ่ม / the meeting ends before it starts")
    if duration > MAX_DURATION:
        raise SeriesError("duration_min", "ประชุมได้ไม่เกิน 12 ชั่วโมง / at most 12 hours")

    layout = str(raw.get("layout") or "4x5")
    if layout not in LAYOUTS:
        raise SeriesError("layout", f"ไม่รู้จักรูปแบบจอ / unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    agenda_raw = raw.get("agenda") or []
    if not isinstance(agenda_raw, list) or not all(isinstance(a, dict) for a in agenda_raw):
        raise SeriesError("agenda", "ต้องเป็นรายการวาระ / must be a list of objects")

    spec = SeriesSpec(
        title=title,
        organizer_name=organizer_name,
        organizer_email=organizer_email,
        districts=districts,
        start_date=start_date,
        end_date=end_date,
        start_time=start_time,
        duration=duration,
        recurrence=recurrence,
        weekdays=weekdays,
        tz=tz,
        layout=layout,
        agenda=tuple(agenda_raw),
        attendees=attendees,
    )
    skips, moves = _parse_exceptions(raw.get("exceptions"), spec, zone)
    spec = _with_exceptions(spec, skips, moves)
    if not occurrences(spec):
        raise SeriesError("start_date", "ไม่มีวันประชุมในช่วงนี้ / the range holds no meeting day")
    return spec


def _parse_exceptions(
    raw: Any, spec: SeriesSpec, zone: ZoneInfo
) -> tuple[frozenset[date], dict[date, datetime]]:
    if raw is None:
        return frozenset(), {}
    if not isinstance(raw, Mapping):
        raise SeriesError("exceptions", 'ต้องเป็น {"skip": [...], "move": {...}} / must be an object')
    dates = set(_series_dates(spec))
    skips: set[date] = set()
    for s in raw.get("skip") or []:
        d = _date({"exceptions.skip": s}, "exceptions.skip")
        if d not in dates:
            raise SeriesError("exceptions.skip", f"{d} ไม่ใช่วันประชุมของชุดนี้ / {d} is not a meeting day of this series")
        skips.add(d)
    moves: dict[date, datetime] = {}
    move_raw = raw.get("move") or {}
    if not isinstance(move_raw, Mapping):
        raise SeriesError("exceptions.move", "ต้องเป็นออบเจกต์ วันเดิม → เวลาใหม่ / must map date → new start")
    for k, v in move_raw.items():
        d = _date({"exceptions.move": k}, "exceptions.move")
        if d not in dates:
            raise SeriesError("exceptions.move", f"{d} ไม่ใช่วันประชุมของชุดนี้ / {d} is not a meeting day of this series")
        moves[d] = parse_local_datetime(v, zone, "exceptions.move")
    return frozenset(skips), moves


def parse_local_datetime(value: Any, zone: ZoneInfo, field_name: str) -> datetime:
    """``2026-04-13T10:00`` in the series' zone (an explicit offset is honoured)."""
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise SeriesError(field_name, f"วันเวลาไม่ถูกต้อง / not a date-time: {value!r}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=zone)


def _with_exceptions(
    spec: SeriesSpec, skips: frozenset[date], moves: Mapping[date, datetime]
) -> SeriesSpec:
    return SeriesSpec(**{**spec.__dict__, "skips": skips, "moves": dict(moves)})


def skip_occurrence(spec: SeriesSpec, key: date) -> SeriesSpec:
    if key not in set(_series_dates(spec)) or key in spec.skips:
        raise SeriesError("date", f"ไม่มีการประชุมวันที่ {key} / no meeting on {key}")
    moves = {d: v for d, v in spec.moves.items() if d != key}
    return _with_exceptions(spec, spec.skips | {key}, moves)


def move_occurrence(spec: SeriesSpec, key: date, new_start: datetime) -> SeriesSpec:
    if key not in set(_series_dates(spec)) or key in spec.skips:
        raise SeriesError("date", f"ไม่มีการประชุมวันที่ {key} / no meeting on {key}")
    return _with_exceptions(spec, spec.skips, {**spec.moves, key: new_start})


def check_overlaps(spec: SeriesSpec, bookings: Sequence[Booking]) -> None:
    """A district cannot sit in two briefings at once. Raises :class:`SeriesError`."""
    mine = occurrences(spec)
    wanted = set(spec.districts)
    for b in bookings:
        shared = wanted & b.districts
        if not shared:
            continue
        for o in mine:
            if o.start < b.end and b.start < o.end:
                when = format_thai_datetime(b.start, spec.tz)
                raise SeriesError(
                    "districts",
                    f"อำเภอ {', '.join(sorted(shared))} มีประชุม “{b.title}” อยู่แล้ว {when} / "
                    f"district {', '.join(sorted(shared))} is already booked in series "
                    f"{b.series_id} at {b.start.isoformat()}",
                )


def songkran_preset(
    *,
    year: int,
    districts: Sequence[str],
    organizer_email: str,
    organizer_name: str = "",
    tz: str = DEFAULT_TZ,
) -> dict[str, Any]:
    """The Songkran road-safety week: 09:00–09:30 daily, 12–18 April, every district.

    Returned as API input so it passes the same validation as a typed series.
    """
    return {
        "title": SONGKRAN_TITLE,
        "organizer_name": organizer_name,
        "organizer_email": organizer_email,
        "districts": list(districts),
        "start_date": date(year, 4, 12).isoformat(),
        "end_date": date(year, 4, 18).isoformat(),
        "start_time": "09:00",
        "duration_min": 30,
        "recurrence": Recurrence.DAILY.value,
        "timezone": tz,
        "layout": "4x5",
    }


def songkran_year(today: date) -> int:
    """This year's Songkran week unless it is already over."""
    return today.year if today <= date(today.year, 4, 18) else today.year + 1


# --- Thai display -------------------------------------------------------------------


def format_thai_date(d: date, *, weekday: bool = True) -> str:
    """``วันอาทิตย์ที่ 12 เมษายน 2569``: Thai month names from Babel, Buddhist Era year."""
    day_month = format_date(d, "d MMMM", locale="th")
    year = d.year + 543
    if weekday:
        return f"{format_date(d, 'EEEE', locale='th')}ที่ {day_month} {year}"
    return f"{day_month} {year}"


def format_thai_datetime(dt: datetime, tz: str = DEFAULT_TZ) -> str:
    local = dt.astimezone(ZoneInfo(tz))
    return f"{format_thai_date(local.date(), weekday=False)} เวลา {local:%H:%M} น."


# --- occurrence timeline -------------------------------------------------------------


class OccState(StrEnum):
    SCHEDULED = "scheduled"
    READINESS = "readiness"  # T−15: self-tests asked for
    REMINDED = "reminded"  # T−10: reminder sent
    OPEN = "open"  # T0: conference running
    ENDED = "ended"
    MISSED = "missed"  # the hub could not open it within the grace
    CANCELLED = "cancelled"


class Step(StrEnum):
    READINESS = "readiness"
    REMINDER = "reminder"
    OPEN = "open"
    END = "end"


class IllegalTransition(ValueError):
    pass


_BEFORE_OPEN = frozenset({OccState.SCHEDULED, OccState.READINESS, OccState.REMINDED})
TERMINAL = frozenset({OccState.ENDED, OccState.MISSED, OccState.CANCELLED})

_TRANSITIONS: dict[str, tuple[frozenset[OccState], OccState]] = {
    "readiness": (frozenset({OccState.SCHEDULED}), OccState.READINESS),
    "remind": (frozenset({OccState.SCHEDULED, OccState.READINESS}), OccState.REMINDED),
    "open": (_BEFORE_OPEN, OccState.OPEN),
    "end": (frozenset({OccState.OPEN}), OccState.ENDED),
    "miss": (_BEFORE_OPEN, OccState.MISSED),
    "cancel": (_BEFORE_OPEN, OccState.CANCELLED),
}


def advance(state: OccState | str, event: str) -> OccState:
    """The next state, or :class:`IllegalTransition` (e.g. opening twice)."""
    current = OccState(state)
    try:
        sources, target = _TRANSITIONS[event]
    except KeyError as exc:
        raise IllegalTransition(f"unknown event {event!r}") from exc
    if current not in sources:
        raise IllegalTransition(f"{event} not allowed in state {current.value}")
    return target


@dataclass(frozen=True)
class Leads:
    """How long before T0 each preparatory step runs."""

    readiness: timedelta = timedelta(minutes=15)
    reminder: timedelta = timedelta(minutes=10)


def step_times(start: datetime, end: datetime, leads: Leads) -> dict[Step, datetime]:
    return {
        Step.READINESS: start - leads.readiness,
        Step.REMINDER: start - leads.reminder,
        Step.OPEN: start,
        Step.END: end,
    }


def step_is_stale(step: Step, start: datetime, now: datetime) -> bool:
    """Readiness and reminder that fire late (a hub restart) after T0 are pointless."""
    return step in (Step.READINESS, Step.REMINDER) and now >= start


def is_missed(state: OccState | str, start: datetime, now: datetime, grace: timedelta) -> bool:
    """Not opened and past the grace: it must be marked missed, not run late."""
    return OccState(state) in _BEFORE_OPEN and now > start + grace


def is_late(joined_at: datetime | None, start: datetime, now: datetime, late_after: timedelta) -> bool:
    """A district is late when it had not joined ``late_after`` past T0."""
    deadline = start + late_after
    if joined_at is None:
        return now > deadline
    return joined_at > deadline


def spec_from_json(data: Mapping[str, Any]) -> SeriesSpec:
    """Rebuild a stored series (the output of :meth:`SeriesSpec.to_json`) without re-validating."""
    tz = str(data.get("timezone") or DEFAULT_TZ)
    zone = ZoneInfo(tz)
    exc = data.get("exceptions") or {}
    return SeriesSpec(
        title=str(data["title"]),
        organizer_name=str(data.get("organizer_name") or ""),
        organizer_email=str(data["organizer_email"]),
        districts=tuple(data["districts"]),
        start_date=date.fromisoformat(data["start_date"]),
        end_date=date.fromisoformat(data["end_date"]),
        start_time=time.fromisoformat(data["start_time"]),
        duration=timedelta(minutes=float(data["duration_min"])),
        recurrence=Recurrence(data.get("recurrence") or "once"),
        weekdays=frozenset(data.get("weekdays") or ()),
        tz=tz,
        layout=str(data.get("layout") or "4x5"),
        agenda=tuple(data.get("agenda") or ()),
        attendees=tuple(data.get("attendees") or ()),
        skips=frozenset(date.fromisoformat(d) for d in exc.get("skip") or ()),
        moves={
            date.fromisoformat(k): parse_local_datetime(v, zone, "exceptions.move")
            for k, v in (exc.get("move") or {}).items()
        },
    )
