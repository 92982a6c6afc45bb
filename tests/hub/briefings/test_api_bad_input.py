"""Every bad input to the series API: a 4xx JSON answer naming the field, and nothing saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from hub.briefings.model import SONGKRAN_TITLE
from hub.keys import ENGINE

from .harness import TestHub


def body(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "title": "ประชุมติดตามสถานการณ์",
        "organizer_email": "po@udon.example",
        "districts": ["UDN01", "UDN02"],
        "start_date": "2031-04-12",
        "end_date": "2031-04-18",
        "start_time": "09:00",
        "duration_min": 30,
        "recurrence": "daily",
    }
    b.update(over)
    return b


BAD = [
    ({"end_date": "2031-04-01"}, "end_date", 400),  # end before start
    ({"end_date": "2032-05-13"}, "end_date", 400),  # over 366 days
    ({"districts": ["UDN01", "UDN77"]}, "districts", 400),  # unknown district
    ({"districts": ["UDN00"]}, "districts", 400),  # the province hub is not a district
    ({"districts": []}, "districts", 400),  # no districts
    ({"organizer_email": "po(at)udon.example"}, "organizer_email", 400),  # malformed e-mail
    ({"attendees": ["x@"]}, "attendees", 400),
    ({"duration_min": -30}, "duration_min", 400),  # ends before it starts
    ({"start_time": "9 o'clock"}, "start_time", 400),
    ({"recurrence": "weekdays"}, "weekdays", 400),
]


def counts(hub: TestHub) -> tuple[int, int, int]:
    assert hub.app is not None
    with hub.app[ENGINE].connect() as c:
        return tuple(  # type: ignore[return-value]
            int(c.execute(sa.text(f"select count(*) from {t}")).scalar_one())
            for t in ("briefing_series", "briefing_occurrences", "mail_outbox")
        )


@pytest.mark.slow
async def test_bad_input_is_refused_with_the_field_and_nothing_saved(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub")
    await hub.start()
    try:
        status, first = await hub.api("POST", "/api/v1/series", body())
        assert status == 201
        before = counts(hub)
        assert before[:2] == (1, 7)

        for over, field, code in BAD:
            status, err = await hub.api("POST", "/api/v1/series",
                                        body(**{"start_date": "2031-05-12", "end_date": "2031-05-13", **over}))
            assert status == code, (over, err)
            assert err["field"] == field, (over, err)
            assert isinstance(err["error"], str) and err["error"]
        # a district already booked in an overlapping briefing (another series, same slot)
        status, err = await hub.api("POST", "/api/v1/series",
                                    body(districts=["UDN03", "UDN02"], start_date="2031-04-15",
                                         end_date="2031-04-15", recurrence="once", start_time="09:15"))
        assert status == 409 and err["field"] == "districts" and "UDN02" in err["error"]
        assert counts(hub) == before

        # the same rules on a change: refused, the stored series unchanged
        sid = first["id"]
        for over, field, code in BAD[:6]:
            status, err = await hub.api("PATCH", f"/api/v1/series/{sid}", over)
            assert status == code and err["field"] == field, (over, err)
        status, still = await hub.api("GET", f"/api/v1/series/{sid}")
        assert still["districts"] == ["UDN01", "UDN02"] and still["end_date"] == "2031-04-18"
        assert still["sequence"] == 0
        # a series does not conflict with itself when changed
        status, _ = await hub.api("PATCH", f"/api/v1/series/{sid}", {"duration_min": 45})
        assert status == 200

        # exceptions on dates that are not meeting days, bad move times, unknown series
        status, err = await hub.api("POST", f"/api/v1/series/{sid}/occurrences/2031-04-30/skip")
        assert status == 400 and err["field"] == "date"
        status, err = await hub.api("POST", f"/api/v1/series/{sid}/occurrences/2031-04-13/move", {"start": "soon"})
        assert status == 400 and err["field"] == "start"
        status, err = await hub.api("POST", f"/api/v1/series/{sid}/occurrences/13-04-2031/skip")
        assert status == 400 and err["field"] == "date"
        status, err = await hub.api("GET", "/api/v1/series/9999")
        assert status == 404 and err["field"] == "id"
        status, err = await hub.api("GET", "/api/v1/occurrences?from=2031-04-20&to=2031-04-01")
        assert status == 400 and err["field"] == "to"

        # not JSON / not an object
        headers = {"Authorization": f"Bearer {hub.token}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http:
            async with http.post(hub.url + "/api/v1/series", data=b"{nope", headers=headers) as resp:
                assert resp.status == 400 and (await resp.json())["field"] == "body"
            async with http.post(hub.url + "/api/v1/series", json=[1, 2], headers=headers) as resp:
                assert resp.status == 400 and (await resp.json())["field"] == "body"
            async with http.post(hub.url + "/api/v1/series", json=body()) as resp:
                assert resp.status in (401, 403)  # no credentials (CSRF or login refusal)
        assert counts(hub)[0] == 1

        # the Songkran preset: all 20 districts, 09:00–09:30, 12–18 April
        status, preset = await hub.api("POST", "/api/v1/series/preset/songkran", {"year": 2030})
        assert status == 201, preset
        assert preset["title"] == SONGKRAN_TITLE and len(preset["districts"]) == 20
        assert [o["key_date"] for o in preset["occurrences"]] == [f"2030-04-{d}" for d in range(12, 19)]
        assert {o["time_th"] for o in preset["occurrences"]} == {"09:00 น."}
        assert preset["occurrences"][0]["date_th"] == "วันศุกร์ที่ 12 เมษายน 2573"
        # twice is a double booking of every district
        status, err = await hub.api("POST", "/api/v1/series/preset/songkran", {"year": 2030})
        assert status == 409 and err["field"] == "districts"
        status, err = await hub.api("POST", "/api/v1/series/preset/songkran", {"year": "soon"})
        assert status == 400 and err["field"] == "year"
    finally:
        await hub.stop()
