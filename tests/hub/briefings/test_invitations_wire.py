"""The scheduler's own mailing, end to end: ``POST /api/v1/series/{id}/invitations`` on a real hub,
the outbox, a real SMTP server (aiosmtpd), and back to the hub with each letter's links.

What the issue found (issue 15, "The invitation, corrected"): the letter's link answered 404, every
district got the same link, From was the relay rather than the ORGANIZER, and a moved day was
told with the series time. Each is checked here on the mail as it arrived.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from icalendar import Calendar

from hub.briefings.model import format_thai_date

from .harness import TestHub, free_port, smtp_server, wait_for

BKK = ZoneInfo("Asia/Bangkok")
ORGANIZER_EMAIL = "control@salaklang.example"
ORGANIZER_NAME = "ศาลากลางจังหวัดอุดรธานี"
RELAY = "relay@salaklang.example"
DISTRICTS = {"UDN01": "เมืองอุดรธานี", "UDN02": "กุดจับ", "UDN03": "หนองวัวซอ"}
GUEST = "partner@agency.example"
LINK = re.compile(r"https?://\S+/briefings/\d+(?:/district/\w+)?\?k=[\w=-]+")


def _parts(msg: EmailMessage) -> tuple[str, str, Calendar]:
    text = html = ""
    cal: Calendar | None = None
    for part in msg.walk():
        assert isinstance(part, EmailMessage)
        if part.get_content_type() == "text/plain":
            text = part.get_content()
        elif part.get_content_type() == "text/html":
            html = part.get_content()
        elif part.get_content_type() == "text/calendar":
            cal = Calendar.from_ical(part.get_content())
    assert text and html and cal is not None
    return text, html, cal


def _by_rcpt(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    out: dict[str, EmailMessage] = {}
    for msg in messages:
        ((_name, addr),) = getaddresses([str(msg["To"])])
        out[addr] = msg
    return out


def _site_of(addr: str) -> str:
    return addr.split("@", 1)[0].upper()  # the inventory's contacts are udn01@…, udn02@…


def _check_times(text: str, cal: Calendar, slots: dict[str, tuple[datetime, datetime]]) -> dict[str, str]:
    """Every occurrence has its own event and its own line in the letter, at its own time;
    returns each occurrence's link (by key date) as the calendar gives it."""
    master, *overrides = cal.walk("VEVENT")
    assert "RRULE" in master and "RECURRENCE-ID" not in master
    assert str(master["ORGANIZER"]) == f"mailto:{ORGANIZER_EMAIL}"
    by_key = {o["RECURRENCE-ID"].dt.astimezone(BKK).date().isoformat(): o for o in overrides}
    assert set(by_key) == set(slots)
    links: dict[str, str] = {}
    for key, (start, end) in slots.items():
        ev = by_key[key]
        assert ev["DTSTART"].dt == start and ev["DTEND"].dt == end, key
        a, b = start.astimezone(BKK), end.astimezone(BKK)
        hm = f"{a:%H:%M}–{b:%H:%M}"
        assert hm in str(ev["DESCRIPTION"]), (key, str(ev["DESCRIPTION"]))
        assert f"{format_thai_date(a.date())} เวลา {hm} น." in text
        links[key] = str(ev["URL"])
        assert links[key] in str(ev["DESCRIPTION"]) and links[key] in text
    return links


def _address(raw: bytes, name: str) -> tuple[str, str]:
    """(display name, address) of one header as sent, decoded by RFC 2047 §6.2: the white space
    between two encoded-words is dropped. (Python 3.11's ``policy.default`` parser keeps it in
    address headers, CPython gh-128110, and would split a Thai name in two.)"""
    value = message_from_bytes(raw, policy=compat32)[name]
    assert value is not None, name
    return parseaddr(str(make_header(decode_header(value))))


async def _page(http: aiohttp.ClientSession, link: str) -> tuple[int, str]:
    async with http.get(link) as resp:
        return resp.status, await resp.text()


def _series(start: datetime) -> dict[str, Any]:
    local = start.astimezone(BKK)
    return {
        "title": "ประชุมติดตามสถานการณ์ความปลอดภัยทางถนน ช่วงเทศกาลสงกรานต์",
        "organizer_name": ORGANIZER_NAME, "organizer_email": ORGANIZER_EMAIL,
        "districts": list(DISTRICTS), "attendees": [GUEST],
        "start_date": local.date().isoformat(), "end_date": (local.date() + timedelta(days=2)).isoformat(),
        "start_time": f"{local:%H:%M}", "duration_min": 30, "recurrence": "daily",
    }


async def test_scheduler_invitations_from_organizer_links_open_join_page_moved_day(tmp_path: Path) -> None:
    smtp_port = free_port()
    # Starts in 20 minutes: inside the links' 30-minute join window, before any timeline step
    # (readiness 15 minutes ahead), so the join page is open and nothing else mails.
    start = (datetime.now(UTC) + timedelta(minutes=20)).replace(second=0, microsecond=0)
    hub = TestHub(tmp_path / "hub", smtp_port=smtp_port, mail_from=RELAY, media_enabled=False)
    await hub.start()
    try:
        with smtp_server(smtp_port) as sink:
            status, series = await hub.api("POST", "/api/v1/series", _series(start))
            assert status == 201, series
            sid = series["id"]
            status, sent = await hub.api("POST", f"/api/v1/series/{sid}/invitations")
            assert status == 202 and sent["queued"] == 4, sent
            await wait_for(lambda: len(sink.messages) == 4)

            # From is the ORGANIZER; the relay names itself in Sender and on the envelope
            for raw in sink.raw:
                assert _address(raw, "From") == (ORGANIZER_NAME, ORGANIZER_EMAIL)
                assert _address(raw, "Sender")[1] == RELAY
            assert {env_from for env_from, _rcpts in sink.envelopes} == {RELAY}

            slots = {o["key_date"]: (datetime.fromisoformat(o["starts_at"]), datetime.fromisoformat(o["ends_at"]))
                     for o in series["occurrences"]}
            occ_ids = {o["key_date"]: o["id"] for o in series["occurrences"]}
            mails = _by_rcpt(sink.messages)
            assert set(mails) == {f"{c.lower()}@salaklang.example" for c in DISTRICTS} | {GUEST}
            guest_text, _h, guest_cal = _parts(mails.pop(GUEST))
            guest_links = _check_times(guest_text, guest_cal, slots)
            first = min(slots)
            district_links: dict[str, dict[str, str]] = {}
            async with aiohttp.ClientSession() as http:
                for addr, msg in mails.items():
                    code = _site_of(addr)
                    text, html, cal = _parts(msg)
                    own = _check_times(text, cal, slots)
                    district_links[code] = own
                    # the district's own link for each occurrence, and the guest link to pass on
                    for key, link in own.items():
                        assert urlsplit(link).path == f"/briefings/{occ_ids[key]}/district/{code}"
                        assert guest_links[key] in text and link.replace("&", "&amp;") in html
                    assert set(LINK.findall(text)) == set(own.values()) | set(guest_links.values())
                    assert f"ขอเชิญอำเภอ{DISTRICTS[code]}เข้าร่วม" in text
                    # the link answers with the join page, as the district
                    status, page = await _page(http, own[first])
                    assert status == 200, page[:300]
                    assert 'id="join-form"' in page and 'data-kind="district"' in page
                    assert f"เข้าร่วมในนามอำเภอ{DISTRICTS[code]}" in page
                    # a later day's link is the join page too, saying when it opens
                    later = max(slots)
                    status, page = await _page(http, own[later])
                    assert status == 200 and 'data-state="not_open"' in page
                # twenty contacts share a job title: each attendee is named by the district
                names = {str(a.params["CN"]) for a in cal.walk("VEVENT")[0]["ATTENDEE"]
                         if str(a) != f"mailto:{GUEST}"}
                assert all(any(n.endswith(f"อำเภอ{d}") for n in names) for d in DISTRICTS.values())
                # no two districts share a link
                every = [link for own in district_links.values() for link in own.values()]
                assert len(every) == len(set(every)) == 3 * len(slots)
                status, page = await _page(http, guest_links[first])
                assert status == 200 and 'data-kind="guest"' in page and 'id="join-form"' in page

            # move the second day: the update states that day's new time and every other day's own
            second = sorted(slots)[1]
            old = slots[second][0].astimezone(BKK)
            new_local = old + (timedelta(hours=5) if old.hour < 12 else -timedelta(hours=5))
            status, moved = await hub.api("POST", f"/api/v1/series/{sid}/occurrences/{second}/move",
                                          {"start": f"{new_local:%Y-%m-%dT%H:%M}"})
            assert status == 200, moved
            await wait_for(lambda: len(sink.messages) == 8)
            after = {o["key_date"]: (datetime.fromisoformat(o["starts_at"]), datetime.fromisoformat(o["ends_at"]))
                     for o in moved["occurrences"]}
            assert after[second][0] == new_local.astimezone(UTC) != slots[second][0]
            updates = _by_rcpt(sink.messages[4:])
            assert all(_address(raw, "From") == (ORGANIZER_NAME, ORGANIZER_EMAIL) for raw in sink.raw[4:])
            for addr, msg in updates.items():
                text, _html, cal = _parts(msg)
                links = _check_times(text, cal, after)
                if addr != GUEST:
                    # the same links as in the invitation (derived, not reissued)
                    assert links == district_links[_site_of(addr)]
                assert f"เลื่อนจาก{format_thai_date(old.date())} เวลา {old:%H:%M} น." in text
                assert text.count(f"เวลา {new_local:%H:%M}–{new_local + timedelta(minutes=30):%H:%M} น.") >= 1
    finally:
        await hub.stop()
