"""An admin resets another operator's password through the admin page (issue 12), over real HTTP.

Real hub on a loopback port; the admin logs in with the form, follows the page's link,
posts the page's form with its CSRF token. The same policy as everywhere refuses a common
password; a reset ends every session of the account; both are audited; a non-admin and a
form without its CSRF token are refused.
"""

from __future__ import annotations

import re

import aiohttp
from sqlmodel import select

from hub import audit
from hub.db import session_scope
from hub.web.auth import verify_password
from hub.web.store import Operator
from tests.conftest import PASSWORD, HubHandle
from tests.hub.web.test_auth import login

NEW = "ข้าวเหนียวมะม่วงหน้าร้อน"


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def test_admin_resets_a_password_through_the_admin_page(hub: HubHandle) -> None:
    with session_scope(hub.engine) as session:
        viewer_id = session.exec(select(Operator).where(Operator.username == "viewer")).one().id
    async with jar() as admin, jar() as victim:
        await login(victim, hub, "viewer", PASSWORD)
        async with victim.get(f"{hub.url}/api/v1/me") as resp:
            assert resp.status == 200
        # The viewer cannot reach the reset page, nor post to it.
        async with victim.get(f"{hub.url}/admin/operators/{viewer_id}/password", allow_redirects=False) as resp:
            assert resp.status == 403

        assert (await login(admin, hub, "admin", PASSWORD)).status == 303
        async with admin.get(f"{hub.url}/admin") as resp:
            html = await resp.text()
        link = f'href="/admin/operators/{viewer_id}/password"'
        assert link in html  # the admin page's button for that operator
        async with admin.get(f"{hub.url}/admin/operators/{viewer_id}/password") as resp:
            page = await resp.text()
        assert resp.status == 200 and "viewer" in page and 'name="new_password"' in page
        token = csrf(page)
        url = f"{hub.url}/admin/operators/{viewer_id}/password"

        # Without the page's CSRF token: refused before anything changes.
        async with admin.post(url, data={"new_password": NEW}, allow_redirects=False) as resp:
            assert resp.status == 403
        # The same policy as the API and the account page: a common password is refused.
        async with admin.post(url, data={"csrf_token": token, "new_password": "password1234"}) as resp:
            assert resp.status == 400 and "common" in await resp.text()
        async with admin.post(url, data={"csrf_token": token, "new_password": "short"}) as resp:
            assert resp.status == 400 and "12" in await resp.text()
        async with victim.get(f"{hub.url}/api/v1/me") as resp:
            assert resp.status == 200  # refusals changed nothing
        assert verify_password(hub.engine, "viewer", PASSWORD) is not None

        async with admin.post(url, data={"csrf_token": token, "new_password": NEW}, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/admin?reset=viewer#operators"
        async with admin.get(f"{hub.url}/admin?reset=viewer") as resp:
            assert 'id="reset-done"' in await resp.text()
        async with admin.get(f"{hub.url}/admin?reset=<b>someone</b>") as resp:
            assert 'id="reset-done"' not in await resp.text()  # only an account of this hub is named
        # The viewer's live session ended with the reset; the admin's own did not.
        async with victim.get(f"{hub.url}/api/v1/me") as resp:
            assert resp.status == 401
        async with admin.get(f"{hub.url}/api/v1/me") as resp:
            assert resp.status == 200
        async with admin.get(f"{hub.url}/admin/operators/999999/password") as resp:
            assert resp.status == 404
    assert verify_password(hub.engine, "viewer", PASSWORD) is None
    assert verify_password(hub.engine, "viewer", NEW) is not None
    events = [e for e in audit.recent(hub.engine, action_prefix="password.reset") if e.action == "password.reset"]
    assert sorted(e.ok for e in events) == [False, False, True]
    assert all(e.actor == "operator:admin" and e.target == str(viewer_id) for e in events)
