"""Every error on /api/ and /agent/ is a JSON body; request bodies are read and validated in one place.

A real hub on a loopback port: aiohttp's own errors (no route, wrong method, body too
large), a role refusal, a handler that crashes, and bad bodies all come back as
``{"error": ...}`` with the right status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hub.app import create_app
from hub.keys import ENGINE
from hub.settings import Settings
from hub.web.errors import json_error
from tests.conftest import HubHandle, _ensure_accounts


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug in a handler")


async def _plain_403(request: web.Request) -> web.Response:
    raise web.HTTPForbidden(text="go away")


@pytest.fixture
async def hub_with_faults(settings: Settings, tmp_path: Path) -> AsyncIterator[HubHandle]:
    """The real app, plus routes that fail the way a careless handler would."""
    app = create_app(settings)
    app.router.add_get("/api/v1/test/boom", _boom)
    app.router.add_get("/agent/test/forbidden", _plain_403)
    app.router.add_get("/test/boom", _boom)
    runner = web.AppRunner(app, shutdown_timeout=3)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    handle = HubHandle(app, runner, settings, url, app[ENGINE], tmp_path)
    await asyncio.to_thread(_ensure_accounts, handle)
    yield handle
    await runner.cleanup()


def test_json_error_statuses() -> None:
    for status in (400, 401, 403, 404, 409, 413, 429, 503, 504):
        exc = json_error(status, "nope", field="x")
        assert exc.status == status and exc.content_type == "application/json"
        assert exc.text == '{"error": "nope", "field": "x"}'
    with pytest.raises(ValueError):
        json_error(302, "not an error")


async def test_api_errors_are_json(hub_with_faults: HubHandle, http: aiohttp.ClientSession) -> None:
    url, auth = hub_with_faults.url, hub_with_faults.auth()
    cases = [
        ("GET", "/api/v1/no-such-route", {}, 404, "Not Found"),
        ("DELETE", "/api/v1/sites", auth, 405, "Method Not Allowed"),
        ("GET", "/agent/no-such-route", {}, 404, "Not Found"),
        ("GET", "/agent/test/forbidden", {}, 403, "go away"),
        ("GET", "/api/v1/sites", {}, 401, "login required"),
        ("GET", "/api/v1/audit", hub_with_faults.auth("viewer"), 403, "needs role admin"),
        ("GET", "/api/v1/test/boom", {}, 500, "internal error"),
    ]
    for method, path, headers, status, error in cases:
        async with http.request(method, url + path, headers=headers) as resp:
            assert resp.status == status, (path, resp.status)
            assert resp.content_type == "application/json", (path, resp.content_type)
            body = await resp.json()
            assert body["error"] == error or body["error"].startswith(error), (path, body)
            if status == 405:
                assert "GET" in resp.headers["Allow"]
            # The security headers are on error answers too.
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # Over the hub's 2 MiB body limit: aiohttp's own 413, as JSON.
    big = b"x" * (3 * 1024 * 1024)
    async with http.post(url + "/api/v1/enrol", data=big, headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413 and resp.content_type == "application/json"
        assert "error" in await resp.json()


async def test_pages_keep_html_errors(hub_with_faults: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.get(hub_with_faults.url + "/no-such-page") as resp:
        assert resp.status == 404 and resp.content_type != "application/json"
    async with http.get(hub_with_faults.url + "/test/boom") as resp:
        assert resp.status == 500 and resp.content_type != "application/json"
    # A page that needs a login redirects (a 3xx passes the middleware untouched).
    async with http.get(hub_with_faults.url + "/admin", headers={"Accept": "text/html"},
                        allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_bodies_are_read_and_validated_once(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    url = hub.url + "/api/v1/enrol"
    cases = [
        (b"{not json", 400, "body"),  # not JSON
        (b"[1, 2]", 400, "body"),  # JSON, not an object
        (b"", 400, "code"),  # empty: read as {}, so the missing field is named
        (b'{"code": "AB"}', 400, "code"),  # too short
        (b'{"code": "ABCDE-FGHJK", "hostname": 5}', 400, "hostname"),
    ]
    for raw, status, field in cases:
        async with http.post(url, data=raw, headers={"Content-Type": "application/json"}) as resp:
            body = await resp.json()
            assert resp.status == status and body["field"] == field, (raw, body)
            assert isinstance(body["error"], str) and body["error"]
    # The same reader behind another room's route: the conference API names the field too.
    async with http.post(hub.url + "/api/v1/conferences", data=b'{"sites": []}', headers=hub.auth()) as resp:
        body = await resp.json()
        assert resp.status == 400 and body["field"] == "sites", body
