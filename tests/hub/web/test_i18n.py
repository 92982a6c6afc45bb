"""Thai first: complete catalogs, Buddhist Era dates, and the language switch."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from babel.messages.pofile import read_po

from hub.web.i18n import LOCALE_DIR, Catalogs, current_language, format_datetime
from tests.conftest import PASSWORD, HubHandle
from tests.hub.web.test_auth import login


def test_every_thai_message_is_translated() -> None:
    with (LOCALE_DIR / "th" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="th")
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []


def test_catalog_lookup_follows_the_request_language() -> None:
    catalogs = Catalogs()
    current_language.set("th")
    assert catalogs.gettext("Log in") == "เข้าสู่ระบบ"
    current_language.set("en")
    assert catalogs.gettext("Log in") == "Log in"


def test_buddhist_era_in_thai_gregorian_in_english() -> None:
    # 12 April 2026 02:00 UTC is 09:00 in Bangkok: the Songkran briefing.
    at = datetime(2026, 4, 12, 2, 0, tzinfo=UTC)
    assert format_datetime(at, "th") == "12 เม.ย. 2569 09:00 น."
    assert format_datetime(at, "en") == "12 Apr 2026 09:00"


async def test_language_switch_round_trip(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    await login(http, hub, "viewer", PASSWORD)
    async with http.get(f"{hub.url}/lang/en", headers={"Referer": f"{hub.url}/"}) as resp:
        html = await resp.text()
    assert "District board" in html and 'lang="en"' in html
    async with http.get(f"{hub.url}/lang/th") as resp:
        html = await resp.text()
    assert "สถานะอำเภอ" in html and 'lang="th"' in html
