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


async def _raw(hub: HubHandle, data: bytes) -> bytes:
    port = int(hub.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_requests_the_http_parser_refuses_get_a_400_without_versions(
    hub: HubHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp answers these before any application hook (docs/SECURITY.md, known limits):
    what holds is a 400 (never a 500), no product versions in Server, one log line each."""
    bad = [
        b"GARBAGE\r\n\r\n",  # no method, path or version
        b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",  # a header over 8190 bytes
        b"GET / HTTP/1.1\r\nHost: x\r\nBad\x00Name: 1\r\n\r\n",  # a NUL in a header name
        b"GET /api/v1/me HTTP/9.9\r\nHost: x\r\n\r\n",  # an unknown HTTP version
    ]
    with caplog.at_level("DEBUG", logger="aiohttp.server"):
        for data in bad:
            answer = await _raw(hub, data)
            head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            status_line, *header_lines = head.split("\r\n")
            assert status_line.split(" ")[1] == "400", (data[:40], head)
            headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
            assert headers["server"] == "salaklang", head
            assert "python" not in head.lower() and "aiohttp" not in head.lower(), head
    assert not [r for r in caplog.records if r.exc_info], "a parser refusal logged a traceback"
    # The hub still answers normally afterwards, with its full headers.
    answer = await _raw(hub, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and b"X-Content-Type-Options: nosniff" in answer
