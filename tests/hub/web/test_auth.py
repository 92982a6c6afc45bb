"""Login, sessions, CSRF, roles and bearer tokens — over real HTTP."""

from __future__ import annotations

import re

import aiohttp
import pytest

from hub import audit
from hub.web import pages
from hub.web.auth import AuthError, create_operator, verify_password
from tests.conftest import PASSWORD, HubHandle


async def login(http: aiohttp.ClientSession, hub: HubHandle, user: str, password: str) -> aiohttp.ClientResponse:
    async with http.get(f"{hub.url}/login") as resp:
        html = await resp.text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    async with http.post(f"{hub.url}/login", data={"username": user, "password": password,
                                                    "csrf_token": match.group(1), "next": "/"},
                         allow_redirects=False) as resp:
        await resp.read()
        return resp


async def test_pages_and_api_require_login(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{hub.url}/", headers={"Accept": "text/html"}, allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    async with http.get(f"{hub.url}/api/v1/sites") as resp:
        assert resp.status == 401


async def test_login_ok_and_failed_are_audited_and_board_shows_districts(
    hub: HubHandle, http: aiohttp.ClientSession
) -> None:
    bad = await login(http, hub, "operator", "wrong-password")
    assert bad.status == 401
    ok = await login(http, hub, "operator", PASSWORD)
    assert ok.status == 303
    async with http.get(f"{hub.url}/") as resp:
        html = await resp.text()
    assert resp.status == 200
    assert html.count('class="tile ') == 20 and "นายูง" in html and "Na Yung" in html
    assert "สถานะอำเภอ" in html  # Thai first
    actions = [e.action for e in audit.recent(hub.engine, action_prefix="login.")]
    assert actions[:2] == ["login.ok", "login.failed"]


async def test_csrf_is_required_for_session_posts(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    await login(http, hub, "admin", PASSWORD)
    url = f"{hub.url}/api/v1/sites/UDN01/enrolment-codes"
    async with http.post(url) as resp:
        assert resp.status == 403 and "CSRF" in (await resp.json())["error"]
    async with http.get(f"{hub.url}/login") as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert token
    async with http.post(url, headers={"X-CSRF-Token": token.group(1)}) as resp:
        assert resp.status == 201


async def test_login_without_csrf_token_is_refused(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{hub.url}/login", data={"username": "admin", "password": PASSWORD}) as resp:
        assert resp.status == 403


async def test_roles_are_enforced_by_the_server(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    body = {"name": "ping", "args": {}}
    async with http.post(f"{hub.url}/api/v1/commands/broadcast", json=body, headers=hub.auth("viewer")) as resp:
        assert resp.status == 403
    async with http.post(f"{hub.url}/api/v1/commands/broadcast", json=body, headers=hub.auth("operator")) as resp:
        assert resp.status == 200
    async with http.get(f"{hub.url}/api/v1/audit", headers=hub.auth("operator")) as resp:
        assert resp.status == 403
    async with http.get(f"{hub.url}/api/v1/audit", headers=hub.auth("admin")) as resp:
        assert resp.status == 200


async def test_wrong_bearer_token_is_refused_and_audited(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{hub.url}/api/v1/sites", headers={"Authorization": "Bearer nope-nope-nope-nope"}) as resp:
        assert resp.status == 401
    assert audit.recent(hub.engine, action_prefix="token.refused")[0].ok is False
    async with http.get(f"{hub.url}/api/v1/sites", headers=hub.auth("viewer")) as resp:
        assert resp.status == 200
        sites = await resp.json()
    assert len(sites) == 20 and {"code", "name_th", "name_en", "online"} <= set(sites[0])
    assert audit.recent(hub.engine, action_prefix="token.used")


async def test_security_headers(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{hub.url}/login") as resp:
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        cookie = resp.headers.get("Set-Cookie", "")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie




async def test_login_is_throttled_after_many_failures(hub: HubHandle, http: aiohttp.ClientSession) -> None:

    pages._failures.clear()
    statuses = [(await login(http, hub, "admin", "bad-password-x")).status for _ in range(pages.LOGIN_MAX_FAILURES + 1)]
    assert statuses[-1] == 429 and statuses[0] == 401
    pages._failures.clear()


def test_operator_validation(engine: object) -> None:
    with pytest.raises(AuthError, match="role"):
        create_operator(engine, "x", "long-enough-pw", "superuser")  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="12 characters"):
        create_operator(engine, "y", "short", "viewer")  # type: ignore[arg-type]
    op = create_operator(engine, "somchai", "long-enough-pw", "operator")  # type: ignore[arg-type]
    assert op.password_hash.startswith("$argon2id$")
    assert verify_password(engine, "somchai", "long-enough-pw") is not None  # type: ignore[arg-type]
    assert verify_password(engine, "somchai", "wrong") is None  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="exists"):
        create_operator(engine, "somchai", "long-enough-pw", "viewer")  # type: ignore[arg-type]


async def test_non_page_routes_do_not_run_page_auth(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    """A district's bearer token on a non-page route must not be judged as an operator token."""
    config = await hub.enrol_agent("UDN15")
    async with http.get(f"{hub.url}/healthz", headers={"Authorization": f"Bearer {config.token}"}) as resp:
        assert resp.status == 200
        assert "Set-Cookie" not in resp.headers  # no session was made for it
    assert audit.recent(hub.engine, action_prefix="token.refused") == []
