"""Invitations through a real SMTP server (aiosmtpd): MIME shape, every iCalendar rule, the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlmodel import Session, select

from hub.keys import ENGINE
from hub.mail.store import MailOutbox

from .harness import TestHub, free_port, smtp_server, wait_for

DISTRICTS = ["UDN01", "UDN02", "UDN03"]


def series_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "ประชุมติดตามสถานการณ์ความปลอดภัยทางถนน",
        "organizer_name": "ศาลากลางจังหวัดอุดรธานี",
        "organizer_email": "po@udon.example",
        "districts": DISTRICTS,
        "start_date": "2027-04-12",
        "end_date": "2027-04-18",
        "start_time": "09:00",
        "duration_min": 30,
        "recurrence": "daily",
    }
    body.update(over)
    return body


def calendar_part(msg: EmailMessage) -> tuple[EmailMessage, Calendar]:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    assert isinstance(part, EmailMessage)
    cal = Calendar.from_ical(part.get_content())
    return part, cal


def check_mime(msg: EmailMessage, method: str) -> Calendar:
    # multipart/mixed[ multipart/alternative[ text/plain, text/html, text/calendar ], invite.ics ]
    assert msg.get_content_type() == "multipart/mixed"
    top = list(msg.iter_parts())
    assert [p.get_content_type() for p in top] == ["multipart/alternative", "application/ics"]
    alt = [p.get_content_type() for p in top[0].iter_parts()]
    assert alt == ["text/plain", "text/html", "text/calendar"]
    for p in top[0].iter_parts():
        assert p.get_param("charset") == "UTF-8"
    assert top[1].get_filename() == "invite.ics"
    part, cal = calendar_part(msg)
    assert part.get_param("method") == method == str(cal["METHOD"])  # MIME method = body METHOD
    text = next(p for p in top[0].iter_parts() if p.get_content_type() == "text/plain")
    body = text.get_content()
    # Thai first: BE date, Bangkok time, the decree, a fault number
    assert body.index("เรียน") < body.index("-- English --")
    assert "พระราชกำหนดว่าด้วยการประชุมผ่านสื่ออิเล็กทรอนิกส์ พ.ศ. 2563" in body
    assert "042-241-500" in body  # the province hub's contact phone from the inventory
    # attachment is the same calendar
    assert Calendar.from_ical(top[1].get_content()).to_ical() == cal.to_ical()
    return cal


def check_calendar_rules(cal: Calendar) -> None:
    assert str(cal["VERSION"]) == "2.0" and cal.get("PRODID")
    events = cal.walk("VEVENT")
    assert events
    assert len({str(e["UID"]) for e in events}) == 1  # one UID for the series
    used = set()
    for e in events:
        for key in ("DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "UID", "SEQUENCE"):
            assert key in e, key
        attendees = e.get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else [attendees]
        assert len(attendees) >= 1
        for a in attendees:
            assert a.params.get("RSVP") == "TRUE" and str(a).startswith("mailto:")
        for key in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            if key in e and "TZID" in e[key].params:
                used.add(e[key].params["TZID"])
        if "EXDATE" in e:
            ex = e["EXDATE"] if isinstance(e["EXDATE"], list) else [e["EXDATE"]]
            used |= {x.params["TZID"] for x in ex if "TZID" in x.params}
        if "RRULE" in e:
            until = e["RRULE"]["UNTIL"][0]
            assert isinstance(until, datetime) and until.utcoffset() == timedelta(0)
            assert "UNTIL=" in e["RRULE"].to_ical().decode() and e["RRULE"].to_ical().decode().endswith("Z")
    declared = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert used and used <= declared  # a VTIMEZONE for every TZID
    for tz in cal.walk("VTIMEZONE"):
        assert "RDATE" not in tz.to_ical().decode()  # Outlook misreads RDATE lists


@pytest.mark.slow
async def test_invitation_update_and_cancels_through_real_smtp(tmp_path: Path) -> None:
    smtp_port = free_port()
    hub = TestHub(tmp_path / "hub", smtp_port=smtp_port)
    await hub.start()
    try:
        with smtp_server(smtp_port) as sink:
            status, series = await hub.api("POST", "/api/v1/series", series_body())
            assert status == 201, series
            sid = series["id"]
            status, sent = await hub.api("POST", f"/api/v1/series/{sid}/invitations")
            assert status == 202 and sent["queued"] == 3
            await wait_for(lambda: len(sink.messages) == 3)
            rcpts = sorted(r for _f, rs in sink.envelopes for r in rs)
            assert rcpts == ["udn01@salaklang.example", "udn02@salaklang.example", "udn03@salaklang.example"]

            msg = sink.messages[0]
            assert "ขอเชิญประชุม" in str(msg["Subject"])
            cal = check_mime(msg, "REQUEST")
            check_calendar_rules(cal)
            # the master event, then one override per occurrence, each with the district's own link
            master, *overrides = cal.walk("VEVENT")
            assert "RECURRENCE-ID" not in master and len(overrides) == 7
            uid = str(master["UID"])
            seq0 = int(master["SEQUENCE"])
            assert master["DTSTART"].dt == datetime(2027, 4, 12, 2, 0, tzinfo=UTC)
            assert master["DTSTART"].params["TZID"] == "Asia/Bangkok"
            assert master["RRULE"]["FREQ"] == ["DAILY"]
            assert master["RRULE"]["UNTIL"][0] == datetime(2027, 4, 18, 2, 0, tzinfo=UTC)
            (alarm,) = master.walk("VALARM")
            assert str(alarm["ACTION"]) == "DISPLAY" and alarm.get("DESCRIPTION")
            assert alarm["TRIGGER"].dt == -timedelta(minutes=10)
            desc = str(master["DESCRIPTION"])
            assert "/district/UDN0" in desc and "?k=" in desc and series["passcode"] in desc
            assert all("/district/UDN0" in str(o["URL"]) for o in overrides)
            assert len(master["ATTENDEE"]) == 3
            assert str(master["STATUS"]) == "CONFIRMED"

            # a change → an update with the same UID and a higher SEQUENCE
            status, _ = await hub.api("PATCH", f"/api/v1/series/{sid}", {"start_time": "09:30"})
            assert status == 200
            await wait_for(lambda: len(sink.messages) == 6)
            cal = check_mime(sink.messages[3], "REQUEST")
            check_calendar_rules(cal)
            upd, *_overrides = cal.walk("VEVENT")
            assert str(upd["UID"]) == uid and int(upd["SEQUENCE"]) > seq0
            assert upd["DTSTART"].dt.hour == 9 and upd["DTSTART"].dt.minute == 30
            assert "แก้ไข" in str(sink.messages[3]["Subject"])
            seq1 = int(upd["SEQUENCE"])

            # cancel one occurrence → METHOD:CANCEL with its RECURRENCE-ID, STATUS:CANCELLED, no VALARM
            status, after_skip = await hub.api("POST", f"/api/v1/series/{sid}/occurrences/2027-04-14/skip")
            assert status == 200, after_skip
            await wait_for(lambda: len(sink.messages) == 9)
            cal = check_mime(sink.messages[6], "CANCEL")
            check_calendar_rules(cal)
            (one,) = cal.walk("VEVENT")
            assert str(one["UID"]) == uid and int(one["SEQUENCE"]) > seq1
            assert str(one["STATUS"]) == "CANCELLED"
            assert one["RECURRENCE-ID"].dt == datetime(2027, 4, 14, 2, 30, tzinfo=UTC)
            assert one["RECURRENCE-ID"].params["TZID"] == "Asia/Bangkok"
            assert not one.walk("VALARM") and "RRULE" not in one
            assert len(one["ATTENDEE"]) == 3  # all attendees listed
            states = {o["key_date"]: o["state"] for o in after_skip["occurrences"]}
            assert states["2027-04-14"] == "cancelled" and states["2027-04-15"] == "scheduled"

            # move one occurrence → a REQUEST whose override carries RECURRENCE-ID; skipped day in EXDATE
            status, _ = await hub.api("POST", f"/api/v1/series/{sid}/occurrences/2027-04-16/move",
                                      {"start": "2027-04-16T13:00"})
            assert status == 200
            await wait_for(lambda: len(sink.messages) == 12)
            cal = check_mime(sink.messages[9], "REQUEST")
            check_calendar_rules(cal)
            master, *overrides = cal.walk("VEVENT")
            assert [d.dt for d in master["EXDATE"].dts] == [datetime(2027, 4, 14, 2, 30, tzinfo=UTC)]
            assert len(overrides) == 6  # the skipped day has no event of its own
            (override,) = [o for o in overrides if o["RECURRENCE-ID"].dt.date() == date(2027, 4, 16)]
            assert override["RECURRENCE-ID"].dt == datetime(2027, 4, 16, 2, 30, tzinfo=UTC)
            assert override["DTSTART"].dt == datetime(2027, 4, 16, 6, 0, tzinfo=UTC)
            seq2 = int(master["SEQUENCE"])

            # cancel the series → METHOD:CANCEL without RECURRENCE-ID
            status, gone = await hub.api("DELETE", f"/api/v1/series/{sid}")
            assert status == 200 and gone["state"] == "cancelled"
            await wait_for(lambda: len(sink.messages) == 15)
            cal = check_mime(sink.messages[12], "CANCEL")
            check_calendar_rules(cal)
            (whole,) = cal.walk("VEVENT")
            assert str(whole["UID"]) == uid and int(whole["SEQUENCE"]) > seq2
            assert str(whole["STATUS"]) == "CANCELLED" and "RECURRENCE-ID" not in whole
            assert not whole.walk("VALARM")
            assert {o["state"] for o in gone["occurrences"]} == {"cancelled"}

            for _ in range(100):  # the row is marked sent just after the server accepted it
                status, rows = await hub.api("GET", f"/api/v1/invitations?series_id={sid}")
                if {r["state"] for r in rows} == {"sent"}:
                    break
                await asyncio.sleep(0.05)
            assert status == 200 and len(rows) == 15 and {r["state"] for r in rows} == {"sent"}
            assert {r["method"] for r in rows} == {"REQUEST", "CANCEL"}
    finally:
        await hub.stop()


@pytest.mark.slow
async def test_smtp_down_queues_retries_and_survives_restart(tmp_path: Path) -> None:
    smtp_port = free_port()  # nothing listens here yet
    hub = TestHub(tmp_path / "hub", smtp_port=smtp_port, mail_max_attempts=50)
    await hub.start()
    status, series = await hub.api("POST", "/api/v1/series", series_body(districts=DISTRICTS[:2]))
    assert status == 201
    sid = series["id"]
    status, _ = await hub.api("POST", f"/api/v1/series/{sid}/invitations")
    assert status == 202
    assert hub.app is not None
    engine = hub.app[ENGINE]

    def rows() -> list[MailOutbox]:
        with Session(engine) as s:
            return list(s.exec(select(MailOutbox).order_by(MailOutbox.id)))  # type: ignore[arg-type]

    # retried with backoff while the server is down, state visible through the API
    await wait_for(lambda: all(r.attempts >= 2 for r in rows()), timeout=10)
    status, listed = await hub.api("GET", "/api/v1/invitations")
    assert {r["state"] for r in listed} == {"queued"}
    assert all(r["last_error"] and r["attempts"] >= 2 for r in listed)
    # hub restarts with the mail still queued: nothing is lost
    await hub.stop()
    await asyncio.sleep(0.2)
    hub2 = TestHub(tmp_path / "hub", smtp_port=smtp_port, mail_max_attempts=50)
    hub2.port, hub2.token = hub.port, hub.token
    with smtp_server(smtp_port) as sink:
        await hub2.start()
        try:
            await wait_for(lambda: len(sink.messages) == 2, timeout=10)
            assert hub2.app is not None
            # a row is marked sent just after the server accepted it
            await wait_for(lambda: [r.state for r in rows()] == ["sent", "sent"], timeout=5)
            final = rows()
            assert all(r.sent_at is not None and r.attempts >= 3 for r in final)
            await asyncio.sleep(0.6)  # a few more outbox passes: no duplicate sends
            assert len(sink.messages) == 2
        finally:
            await hub2.stop()


@pytest.mark.slow
async def test_permanent_refusal_is_failed_with_reason(tmp_path: Path) -> None:
    smtp_port = free_port()
    hub = TestHub(tmp_path / "hub", smtp_port=smtp_port)
    await hub.start()
    try:
        with smtp_server(smtp_port) as sink:
            async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
                return "550 5.1.1 mailbox unavailable"

            sink.handle_RCPT = refuse  # type: ignore[attr-defined]
            status, series = await hub.api("POST", "/api/v1/series", series_body(districts=["UDN04"]))
            assert status == 201
            await hub.api("POST", f"/api/v1/series/{series['id']}/invitations")
            async def failed() -> list[dict[str, Any]]:
                return (await hub.api("GET", "/api/v1/invitations"))[1]  # type: ignore[no-any-return]

            for _ in range(100):
                listed = await failed()
                if listed and listed[0]["state"] == "failed":
                    break
                await asyncio.sleep(0.05)
            assert listed[0]["state"] == "failed" and "550" in listed[0]["last_error"]
            assert listed[0]["attempts"] == 1  # a 5xx is not retried
            assert sink.messages == []
    finally:
        await hub.stop()
