"""The invitation corrections of issue 15, checked on a whole Songkran series with independent
parsers: every mail goes through the real outbox to a real SMTP server (aiosmtpd), is parsed
back with the ``email`` package, and its calendar with ``icalendar``.

The series: 12–18 April, 09:00–09:30, every district; the first day moved to 13:30, then the
series time changed to 09:30 — the letter and every VEVENT must state each day's own time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from icalendar import Calendar
from sqlmodel import Session, select

from hub.briefings.invitations import Mailing, Person, Recipient, compose
from hub.briefings.model import format_thai_date, occurrences, parse_series, songkran_preset
from hub.mail.service import Outbox, RetryPolicy, SmtpConfig
from hub.mail.store import enqueue
from hub.models import Site

from .harness import free_port, smtp_server

YEAR = 2027
ORGANIZER = Person("control@salaklang.example", "ศาลากลางจังหวัดอุดรธานี")
GUEST = "partner@agency.example"
BKK = "Asia/Bangkok"


def _districts(engine: sa.Engine) -> list[Site]:
    with Session(engine) as s:
        return list(s.exec(select(Site).where(Site.kind == "district").order_by(Site.code)))


def _recipients(sites: list[Site]) -> list[Recipient]:
    out = [Recipient(s.contact_email, s.contact_name, s.code, s.name_th, s.room) for s in sites]
    return [*out, Recipient(GUEST)]


def _links(spec: Any, sites: list[Site]) -> dict[str, dict[date, str]]:
    """What the guests room hands out: a guest link and one link per district, per occurrence."""
    keys = [o.key for o in occurrences(spec)]
    links = {"": {k: f"https://hub.example/briefings/{i + 1}?k=guest{i}" for i, k in enumerate(keys)}}
    for s in sites:
        links[s.code] = {k: f"https://hub.example/briefings/{i + 1}/district/{s.code}?k=d{i}{s.code}"
                         for i, k in enumerate(keys)}
    return links


def _spec(sites: list[Site], start_time: str = "09:00") -> Any:
    raw = songkran_preset(year=YEAR, districts=[s.code for s in sites], organizer_email=ORGANIZER.email,
                          organizer_name=ORGANIZER.name)
    raw["start_time"] = start_time
    raw["exceptions"] = {"move": {f"{YEAR}-04-12": f"{YEAR}-04-12T13:30"}}
    return parse_series(raw, known_districts=[s.code for s in sites])


async def _deliver(engine: sa.Engine, mailings: list[Mailing]) -> list[EmailMessage]:
    port = free_port()
    with Session(engine) as s:
        for m in mailings:
            enqueue(s, kind=m.kind, to_addr=m.to.email, to_name=m.to.name, subject=m.subject, text=m.text,
                    html=m.html, ics=m.ics, ics_method=m.method, site_code=m.site_code,
                    from_addr=m.sender.email, from_name=m.sender.name)
        s.commit()
    with smtp_server(port) as sink:
        outbox = Outbox(engine, SmtpConfig(host="127.0.0.1", port=port), RetryPolicy(max_attempts=1))
        sent = await outbox.drain_once()
        assert sent == len(mailings)
        return list(sink.messages)


def _parts(msg: EmailMessage) -> tuple[str, str, Calendar]:
    text = html = ""
    cal: Calendar | None = None
    for part in msg.walk():
        assert isinstance(part, EmailMessage)
        ctype = part.get_content_type()
        if ctype == "text/plain":
            text = part.get_content()
        elif ctype == "text/html":
            html = part.get_content()
        elif ctype == "text/calendar":
            assert part.get_param("method") in ("REQUEST", "CANCEL")
            cal = Calendar.from_ical(part.get_content())
    assert cal is not None and text and html
    return text, html, cal


def _mail_to(messages: list[EmailMessage], addr: str) -> EmailMessage:
    (msg,) = [m for m in messages if addr in str(m["To"])]
    return msg


def _expected_slots(spec: Any) -> dict[date, tuple[datetime, datetime]]:
    return {o.key: (o.start, o.end) for o in occurrences(spec)}


def _check_events(cal: Calendar, spec: Any, own_links: dict[date, str]) -> None:
    """Every occurrence is an event with its own time, Buddhist Era date and link."""
    master, *overrides = cal.walk("VEVENT")
    assert "RRULE" in master and "RECURRENCE-ID" not in master
    by_key = {o["RECURRENCE-ID"].dt.astimezone(UTC).date(): o for o in overrides}
    slots = _expected_slots(spec)
    assert set(by_key) == set(slots)  # one override per occurrence, matched by its original slot
    for key, (start, end) in slots.items():
        ev = by_key[key]
        assert ev["DTSTART"].dt == start and ev["DTEND"].dt == end
        local = start.astimezone(spec.zone)
        desc = str(ev["DESCRIPTION"])
        hm = f"{local:%H:%M}–{end.astimezone(spec.zone):%H:%M}"
        assert hm in desc, (key, desc)
        assert format_thai_date(local.date()) in desc and str(local.year + 543) in desc
        # no other occurrence's time in this event's text
        others = {f"{s.astimezone(spec.zone):%H:%M}–" for s, _ in slots.values()} - {f"{local:%H:%M}–"}
        assert not any(o in desc for o in others), desc
        assert str(ev["URL"]) == own_links[key] and own_links[key] in desc
    m_start = master["DTSTART"].dt.astimezone(spec.zone)
    assert f"{m_start:%H:%M}–" in str(master["DESCRIPTION"])
    assert str(spec.start_date.year + 543) in str(master["DESCRIPTION"])


def _check_letter(text: str, html: str, spec: Any, own_links: dict[date, str]) -> None:
    for o in occurrences(spec):
        a, b = o.start.astimezone(spec.zone), o.end.astimezone(spec.zone)
        line = f"{format_thai_date(a.date())} เวลา {a:%H:%M}–{b:%H:%M} น."
        assert line in text and line.replace("เวลา ", "") not in ("",)
        assert own_links[o.key] in text and own_links[o.key].replace("&", "&amp;") in html
        assert f"{a:%A %d %B %Y}, {a:%H:%M}–{b:%H:%M}" in text  # the English part too
    # The old defect: one time for the whole series, taken from the first occurrence.
    first = occurrences(spec)[0].start.astimezone(spec.zone)
    assert f"{first:%H:%M}–{first + spec.duration:%H:%M} น. (เวลาประเทศไทย" not in text
    assert "วันที่: วัน" not in text and "วันที่ วัน" not in text


async def test_songkran_series_every_mail_states_each_occurrence(engine: sa.Engine) -> None:
    sites = _districts(engine)
    assert len(sites) == 20
    spec = _spec(sites)
    links = _links(spec, sites)
    stamp = datetime(YEAR, 4, 1, 3, 0, tzinfo=UTC)
    common: dict[str, Any] = {
        "uid": "songkran-test@salaklang", "passcode": "493817", "organizer": ORGANIZER,
        "fault_phone": "042-241-500", "recipients": _recipients(sites), "links": links,
        "fallback_url": "https://hub.example/briefings", "stamp": stamp,
    }

    # 1. the invitation, with 12 April already moved to 13:30
    messages = await _deliver(engine, compose("invitation", spec, sequence=0, **common))
    assert len(messages) == 21
    kudchap = next(s for s in sites if s.name_th == "กุดจับ")
    for site in sites:
        msg = _mail_to(messages, site.contact_email)
        text, html, cal = _parts(msg)
        _check_events(cal, spec, links[site.code])
        _check_letter(text, html, spec, links[site.code])
        assert f"ขอเชิญอำเภอ{site.name_th}เข้าร่วม" in text  # "อำเภอ" before the district's name
        # the district's letter also carries the guest link, to pass on to its partners
        assert all(u in text for u in links[""].values())
        # From equals ORGANIZER (RFC 6047): the mailing's sender is the calendar's organizer
        organizer = cal.walk("VEVENT")[0]["ORGANIZER"]
        assert str(organizer) == f"mailto:{ORGANIZER.email}" == f"mailto:{parseaddr(str(msg['From']))[1]}"
    guest_text, _guest_html, guest_cal = _parts(_mail_to(messages, GUEST))
    _check_events(guest_cal, spec, links[""])
    assert "ขอเชิญท่านเข้าร่วม" in guest_text
    assert not any(u in guest_text for code in links if code for u in links[code].values())

    # 20 attendees, 20 display names, each naming its district
    attendees = cal.walk("VEVENT")[0]["ATTENDEE"]
    names = [str(a.params["CN"]) for a in attendees if str(a) != f"mailto:{GUEST}"]
    assert len(names) == 20 == len(set(names))
    assert "ปลัดอำเภอ (ฝ่ายความมั่นคง) อำเภอกุดจับ" in names
    for site in sites:
        assert any(n.endswith(f"อำเภอ{site.name_th}") for n in names)
    assert f"ขอเชิญอำเภอ{kudchap.name_th}" in _parts(_mail_to(messages, kudchap.contact_email))[0]

    # 2. later the series time changes to 09:30: every letter and event says 09:30, the moved day 13:30
    later = _spec(sites, "09:30")
    updates = await _deliver(engine, compose("update", later, sequence=1, **common))
    text, html, cal = _parts(_mail_to(updates, kudchap.contact_email))
    _check_events(cal, later, links[kudchap.code])
    _check_letter(text, html, later, links[kudchap.code])
    assert text.count("เวลา 09:30–10:00 น.") == 6 and text.count("เวลา 13:30–14:00 น.") == 1
    assert "เลื่อนจากวันจันทร์ที่ 12 เมษายน 2570 เวลา 09:30 น." in text
    assert all(int(e["SEQUENCE"]) == 1 for e in cal.walk("VEVENT"))

    # 3. one day cancelled: the Thai reads "เฉพาะวันศุกร์ที่ 16 เมษายน 2570", never "วันที่ วันศุกร์ที่"
    cancels = await _deliver(engine, compose("cancel", later, sequence=2, cancelled=date(YEAR, 4, 16), **common))
    msg = _mail_to(cancels, kudchap.contact_email)
    text, html, cal = _parts(msg)
    assert "วันที่ วัน" not in text and "วันที่ วัน" not in str(msg["Subject"]) and "วันที่ <strong>วัน" not in html
    assert "เฉพาะวันศุกร์ที่ 16 เมษายน 2570 เวลา 09:30–10:00 น." in text
    (ev,) = cal.walk("VEVENT")
    assert str(ev["STATUS"]) == "CANCELLED" and ev["RECURRENCE-ID"].dt == datetime(YEAR, 4, 16, 2, 30, tzinfo=UTC)
    assert "09:30–10:00" in str(ev["DESCRIPTION"]) and "2570" in str(ev["DESCRIPTION"])
    assert str(ev["URL"]) == links[kudchap.code][date(YEAR, 4, 16)]


def test_mailing_sender_is_the_organizer(engine: sa.Engine) -> None:
    sites = _districts(engine)[:2]
    spec = _spec(sites)
    mailings = compose(
        "invitation", spec, uid="u@x", sequence=0, passcode="1", organizer=ORGANIZER, fault_phone="-",
        recipients=_recipients(sites), links=_links(spec, sites), fallback_url="https://hub.example",
        stamp=datetime(YEAR, 4, 1, tzinfo=UTC),
    )
    for m in mailings:
        cal = Calendar.from_ical(m.ics)
        organizer = cal.walk("VEVENT")[0]["ORGANIZER"]
        assert m.sender == ORGANIZER and str(organizer) == f"mailto:{m.sender.email}"
        assert organizer.params["CN"] == m.sender.name


def test_one_off_meeting_moved_states_its_own_time(engine: sa.Engine) -> None:
    sites = _districts(engine)[:1]
    raw = {"title": "ประชุมด่วน", "organizer_email": ORGANIZER.email, "districts": [sites[0].code],
           "start_date": f"{YEAR}-05-03", "start_time": "10:00", "duration_min": 60,
           "exceptions": {"move": {f"{YEAR}-05-03": f"{YEAR}-05-03T14:00"}}}
    spec = parse_series(raw, known_districts=[sites[0].code])
    (m,) = compose("invitation", spec, uid="u@x", sequence=0, passcode="1", organizer=ORGANIZER,
                   fault_phone="-", recipients=_recipients(sites)[:1], links={}, fallback_url="https://hub.example/x",
                   stamp=datetime(YEAR, 4, 1, tzinfo=UTC))
    (ev,) = Calendar.from_ical(m.ics).walk("VEVENT")
    assert ev["DTSTART"].dt.astimezone(spec.zone).hour == 14
    assert "14:00–15:00" in str(ev["DESCRIPTION"]) and "10:00–" not in str(ev["DESCRIPTION"])
    assert "14:00–15:00 น." in m.text and "10:00–" not in m.text
    assert re.search(r"วันจันทร์ที่ 3 พฤษภาคม 2570", m.text)
    assert timedelta(hours=1) == ev["DTEND"].dt - ev["DTSTART"].dt
