"""Server-side sessions and the password policy (issue 12), over real HTTP against a real hub.

Each test is the attack or the mistake the issue reproduced: a cookie replayed after
logout, a disabled or demoted operator keeping their session, an idle or too-old login,
a common password, no way to change one's own password.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select
from yarl import URL

from hub import audit
from hub.db import session_scope
from hub.settings import Settings
from hub.web.auth import (
    AuthError,
    common_passwords,
    create_operator,
    password_problem,
    verify_password,
)
from hub.web.store import Operator, WebSession
from tests.conftest import PASSWORD, HubHandle, _ensure_accounts, start_hub
from tests.hub.web.test_auth import login

COOKIE = "salaklang_session"


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def cookie_of(http: aiohttp.ClientSession, hub: HubHandle) -> str:
    return http.cookie_jar.filter_cookies(URL(hub.url))[COOKIE].value


async def csrf_of(http: aiohttp.ClientSession, hub: HubHandle) -> str:
    async with http.get(f"{hub.url}/login") as resp:
        match = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert match
    return match.group(1)


async def me(http: aiohttp.ClientSession, hub: HubHandle, cookie: str | None = None) -> tuple[int, dict[str, str]]:
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    async with http.get(f"{hub.url}/api/v1/me", headers=headers) as resp:
        return resp.status, await resp.json()


def operator_id(hub: HubHandle, username: str) -> int:
    with session_scope(hub.engine) as session:
        op = session.exec(select(Operator).where(Operator.username == username)).one()
        assert op.id is not None
        return op.id


async def test_logout_ends_the_session_on_the_server(hub: HubHandle) -> None:
    async with jar() as http:
        assert (await login(http, hub, "viewer", PASSWORD)).status == 303
        stolen = cookie_of(http, hub)  # what an attacker copied from the browser
        assert (await me(http, hub))[0] == 200
        async with http.post(f"{hub.url}/logout", headers={"X-CSRF-Token": await csrf_of(http, hub)},
                             allow_redirects=False) as resp:
            assert resp.status == 303
    # Replaying the copied cookie after logout: the session is dead on the server.
    async with aiohttp.ClientSession() as other:
        status, body = await me(other, hub, stolen)
    assert status == 401, body
    with session_scope(hub.engine) as session:
        row = session.exec(select(WebSession)).one()
    assert row.ended_at is not None and row.end_reason == "logout"


async def test_disable_and_demote_reach_a_live_session_at_its_next_request(hub: HubHandle) -> None:
    async with jar() as browser, aiohttp.ClientSession() as api:
        await login(browser, hub, "operator", PASSWORD)
        assert await me(browser, hub) == (200, {"username": "operator", "role": "operator", "via": "session"})
        op_id = operator_id(hub, "operator")
        async with api.post(f"{hub.url}/api/v1/operators/{op_id}", json={"role": "viewer"},
                            headers=hub.auth()) as resp:
            assert resp.status == 200
        # Demoted: the very next request has the new role, not the one at login.
        assert (await me(browser, hub))[1]["role"] == "viewer"
        async with browser.post(f"{hub.url}/api/v1/commands/broadcast", json={"name": "ping"},
                                headers={"X-CSRF-Token": await csrf_of(browser, hub)}) as resp:
            assert resp.status == 403
        async with api.post(f"{hub.url}/api/v1/operators/{op_id}", json={"disabled": True},
                            headers=hub.auth()) as resp:
            assert resp.status == 200
        assert (await me(browser, hub))[0] == 401
        # Enabling the account again does not bring the ended session back.
        async with api.post(f"{hub.url}/api/v1/operators/{op_id}", json={"disabled": False},
                            headers=hub.auth()) as resp:
            assert resp.status == 200
        assert (await me(browser, hub))[0] == 401


async def test_idle_and_absolute_timeouts(hub: HubHandle) -> None:
    hub.settings.session_idle_timeout_s = 1
    async with jar() as http:
        await login(http, hub, "viewer", PASSWORD)
        assert (await me(http, hub))[0] == 200
        await asyncio.sleep(1.3)
        assert (await me(http, hub))[0] == 401
    hub.settings.session_idle_timeout_s = 3600
    hub.settings.session_max_age_s = 2
    async with jar() as http:
        await login(http, hub, "viewer", PASSWORD)
        for _ in range(3):  # busy all along: the absolute limit still ends it
            assert (await me(http, hub))[0] == 200
            await asyncio.sleep(0.4)
        await asyncio.sleep(1.0)
        assert (await me(http, hub))[0] == 401
    with session_scope(hub.engine) as session:
        reasons = [r.end_reason for r in session.exec(select(WebSession).order_by(WebSession.id)).all()]
    assert reasons == ["idle", "expired"]


async def test_sessions_survive_a_restart(settings: Settings, tmp_path: Path) -> None:
    first = await start_hub(settings, tmp_path)
    await asyncio.to_thread(_ensure_accounts, first)
    async with jar() as http:
        await login(http, first, "viewer", PASSWORD)
        cookie = cookie_of(http, first)
    await first.runner.cleanup()
    settings.port = 0
    second = await start_hub(settings, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            assert (await me(http, second, cookie))[0] == 200
    finally:
        await second.runner.cleanup()


def test_password_policy_is_asvs_2_1(engine: object) -> None:
    assert len(common_passwords()) > 19_000
    for bad in ("password", "12345678", "short-pw-11"):  # under 12 characters
        assert password_problem(bad) is not None and "12" in (password_problem(bad) or "")
    for common in ("qwerty123456", "1q2w3e4r5t6y", "123456789123", "QWERTY123456"):
        assert "common" in (password_problem(common) or ""), common
    assert "common" in (password_problem("somchai.s.2567", "somchai.s.2567") or "")  # the username itself
    assert "128" in (password_problem("x" * 129) or "")
    # No composition rules: a long lower-case passphrase, spaces, Thai, emoji are all fine.
    for good in ("correct horse battery", "ม้าถูกต้องแบตเตอรี่ลวดเย็บ", "a" * 128, "กาแฟ ☕ ตอนเช้า 7 โมง"):
        assert password_problem(good) is None, good
    with pytest.raises(AuthError, match="common"):
        create_operator(engine, "somsri", "qwerty123456", "viewer")  # type: ignore[arg-type]
    create_operator(engine, "somsri", "ม้าถูกต้องแบตเตอรี่ลวดเย็บ", "viewer")  # type: ignore[arg-type]
    assert verify_password(engine, "somsri", "ม้าถูกต้องแบตเตอรี่ลวดเย็บ") is not None  # type: ignore[arg-type]


async def test_api_refuses_weak_passwords_for_new_accounts(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    for password, status in (("password", 400), ("12345678", 400), ("qwerty123456", 400),
                             ("y" * 129, 400), ("plenty long passphrase", 201)):
        async with http.post(f"{hub.url}/api/v1/operators", headers=hub.auth(),
                             json={"username": "newbie", "password": password, "role": "viewer"}) as resp:
            body = await resp.json()
            assert resp.status == status, (password, body)
            if status == 400:
                assert body["field"] == "password"


async def test_user_changes_own_password_other_sessions_end(hub: HubHandle) -> None:
    async with jar() as desk, jar() as laptop:
        await login(desk, hub, "operator", PASSWORD)
        await login(laptop, hub, "operator", PASSWORD)
        csrf = await csrf_of(desk, hub)
        url = f"{hub.url}/api/v1/me/password"
        async with desk.post(url, json={"current_password": "not-it-at-all", "new_password": "a new long passphrase"},
                             headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 400 and (await resp.json())["field"] == "current_password"
        async with desk.post(url, json={"current_password": PASSWORD, "new_password": "qwerty123456"},
                             headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 400 and (await resp.json())["field"] == "new_password"
        async with desk.post(url, json={"current_password": PASSWORD, "new_password": "a new long passphrase"}) as resp:
            assert resp.status == 403  # CSRF holds for this route too
        async with desk.post(url, json={"current_password": PASSWORD, "new_password": "a new long passphrase"},
                             headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200, await resp.text()
        assert (await me(desk, hub))[0] == 200  # the session it was changed from goes on
        assert (await me(laptop, hub))[0] == 401  # every other one ends
    assert verify_password(hub.engine, "operator", PASSWORD) is None
    assert verify_password(hub.engine, "operator", "a new long passphrase") is not None
    assert [e.action for e in audit.recent(hub.engine, action_prefix="password.")][:2] == [
        "password.changed", "password.change_refused"]


async def test_admin_resets_a_password_and_every_session_of_it_ends(hub: HubHandle) -> None:
    op_id = operator_id(hub, "viewer")
    async with jar() as browser, aiohttp.ClientSession() as api:
        await login(browser, hub, "viewer", PASSWORD)
        url = f"{hub.url}/api/v1/operators/{op_id}/password"
        async with api.post(url, json={"new_password": "reset by the admin 1"}, headers=hub.auth("operator")) as resp:
            assert resp.status == 403
        async with api.post(url, json={"new_password": "1q2w3e4r5t6y"}, headers=hub.auth()) as resp:
            assert resp.status == 400
        async with api.post(f"{hub.url}/api/v1/operators/999999/password", json={"new_password": "reset by the admin 1"},
                            headers=hub.auth()) as resp:
            assert resp.status == 404
        async with api.post(url, json={"new_password": "reset by the admin 1"}, headers=hub.auth()) as resp:
            assert resp.status == 200
        assert (await me(browser, hub))[0] == 401
    assert verify_password(hub.engine, "viewer", "reset by the admin 1") is not None


async def test_the_account_page_changes_the_password_in_a_browser(hub: HubHandle) -> None:
    async with jar() as http:
        await login(http, hub, "viewer", PASSWORD)
        async with http.get(f"{hub.url}/") as resp:
            assert 'href="/account"' in await resp.text()  # reachable from every page's top bar
        async with http.get(f"{hub.url}/account") as resp:
            html = await resp.text()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert resp.status == 200 and csrf
        form = {"csrf_token": csrf.group(1), "current_password": PASSWORD, "new_password": "password1234"}
        async with http.post(f"{hub.url}/account/password", data=form) as resp:
            assert resp.status == 400 and "common" in await resp.text()
        form["new_password"] = "กาแฟดำไม่ใส่น้ำตาลตอนเช้า"
        async with http.post(f"{hub.url}/account/password", data=form, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/account?done=1"
        assert (await me(http, hub))[0] == 200
    assert verify_password(hub.engine, "viewer", "กาแฟดำไม่ใส่น้ำตาลตอนเช้า") is not None
