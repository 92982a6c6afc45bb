"""The conference page carries the content panel (Thai first) and its script, for a logged-in operator."""

from __future__ import annotations

import re

import aiohttp

from tests.conftest import PASSWORD, HubHandle


async def _login(http: aiohttp.ClientSession, hub: HubHandle, username: str) -> None:
    async with http.get(f"{hub.url}/login") as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert token, "login form has no CSRF field"
    form = {"username": username, "password": PASSWORD, "next": "/conference", "csrf_token": token.group(1)}
    async with http.post(f"{hub.url}/login", data=form) as resp:
        assert resp.status == 200 and resp.url.path == "/conference"


async def test_the_conference_page_shows_the_content_panel(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    await _login(http, hub, "operator")
    async with http.get(f"{hub.url}/conference") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert 'id="content-panel"' in page and 'data-can-act="1"' in page
    assert "เนื้อหานำเสนอ" in page and 'id="content-upload"' in page  # Thai is the default language
    assert 'aria-keyshortcuts="ArrowRight"' in page
    assert 'id="content-allow"' in page and "ให้อำเภอนำเสนอ" in page  # the chair lets a district present
    script = re.search(r'src="(/static/js/content\.js[^"]*)"', page)
    assert script
    async with http.get(hub.url + script.group(1)) as resp:
        script_text = await resp.text()
        assert resp.status == 200 and "/stage/${verb}" in script_text and "/districts/" in script_text


async def test_a_viewer_sees_the_panel_without_the_upload(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    await _login(http, hub, "viewer")
    async with http.get(f"{hub.url}/conference") as resp:
        page = await resp.text()
    assert 'id="content-panel"' in page and 'data-can-act="0"' in page and 'id="content-upload"' not in page
    assert 'id="content-allow"' not in page
