"""Hostile input never gets a 5xx, on every route of the real hub (issue 12).

The routes are read from the running application's router, so a room added later is
covered without touching this file. Each case is one the issue reproduced: deep JSON,
ids at and above 2**63, ``²`` (``str.isdigit`` says yes), dates at the ends of the
calendar, a 4,300-digit integer, NaN; and the answers: a valid JSON error body, the
security headers, no product version in ``Server``, Origin checked on browser
WebSockets, pages that render for a bearer token.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from hub.settings import Settings
from tests.conftest import HubHandle

pytestmark = pytest.mark.slow

ID_VALUES = ["9223372036854775808", "9223372036854775807", "99999999999999999999999999", "²", "٣", "-1", "0"]
TEXT_VALUES = ['UD"N', "UDN01", "\u0000", "9999-12-31", "0001-01-01", "²"]
HOSTILE_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,  # deep nesting: RecursionError in a naive parser
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'{"x": ' + b"7" * 5_000 + b"}",  # more digits than int() converts
    b'{"minutes": NaN, "timeout_s": Infinity, "name": "ping"}',
    b'{"minutes": 1e999, "start": "9999-12-31T23:59", "opens_at": "9999-12-31T23:59:59+00:00"}',
    b'{"start_date": "9999-12-31", "end_date": "9999-12-31", "title": "x", "organizer_email": "a@b.c", '
    b'"districts": ["UDN01"], "start_time": "23:59", "duration_min": 240, "recurrence": "daily"}',
    b'{"start_date": "0001-01-01", "end_date": "0001-01-01", "title": "x", "organizer_email": "a@b.c", '
    b'"districts": ["UDN01"], "start_time": "00:00", "duration_min": 30, "recurrence": "daily"}',
    b'{"id": 9223372036854775808, "sites": ["UDN01"], "conference_id": 99999999999999999999}',
    b"\xff\xfe\x00garbage",
]
_GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")


def _param_regexes(route: Any) -> dict[str, str]:
    pattern = route.resource.get_info().get("pattern")
    return dict(_GROUP.findall(pattern.pattern)) if pattern is not None else {}


def _paths(route: Any) -> Iterator[str]:
    """The route's path with each parameter in turn set to hostile values (others plausible)."""
    info = route.resource.get_info()
    if "path" in info:
        yield info["path"]
        return
    formatter: str = info["formatter"]
    names = re.findall(r"\{(\w+)\}", formatter)
    regexes = _param_regexes(route)

    def plausible(name: str) -> str:
        alternatives = regexes.get(name, "")
        if re.fullmatch(r"[\w|-]+", alternatives) and "|" in alternatives:
            return alternatives.split("|")[0]  # {verb:start|pause|...}: a real verb
        return "1" if name in ("id", "request") or name.endswith("_id") else "UDN01"

    for name in names:
        values = ID_VALUES if name in ("id", "request") or name.endswith("_id") else TEXT_VALUES
        for value in values:
            path = formatter
            for other in names:
                path = path.replace("{" + other + "}", value if other == name else plausible(other))
            yield path


def _routes(hub: HubHandle) -> list[Any]:
    out = []
    for route in hub.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        raw = info.get("path") or info.get("formatter") or ""
        if raw.startswith(("/api/", "/agent/")) and not raw.endswith("/ws") and route.method != "HEAD":
            out.append(route)
    return out


async def _check(resp: aiohttp.ClientResponse, what: Any) -> None:
    body = await resp.read()
    assert resp.status < 500, (what, resp.status, body[:300])
    assert "Python" not in resp.headers.get("Server", "") and "aiohttp" not in resp.headers.get("Server", "")
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", what
    if resp.status >= 400:
        assert resp.content_type == "application/json", (what, resp.content_type)
        assert "error" in json.loads(body), (what, body[:300])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.media_enabled = False  # conference routes must not start media workers here
    return settings


async def test_no_route_answers_hostile_paths_or_bodies_with_a_5xx(
    hub: HubHandle, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    routes = _routes(hub)
    assert len(routes) > 40  # every room's routes, read from the router
    sent = 0
    with caplog.at_level(logging.WARNING):
        for route in routes:
            for path in _paths(route):
                bodies = HOSTILE_BODIES if route.method in ("POST", "PATCH", "PUT") else [None]
                for body in bodies:
                    headers = {**hub.auth(), "Content-Type": "application/json"}
                    async with http.request(route.method, hub.url + path, data=body, headers=headers) as resp:
                        await _check(resp, (route.method, path, (body or b"")[:40]))
                    sent += 1
    assert sent > 500
    tracebacks = [r for r in caplog.records if r.exc_info and r.name.startswith("hub")]
    assert tracebacks == [], [r.getMessage() for r in tracebacks][:5]


@pytest.mark.parametrize("query", [
    "series_id=²", "series_id=٣", "series_id=9223372036854775808", "series_id=-1", "limit=²", "limit=1e9",
    "from=9999-12-31&to=9999-12-31", "from=0001-01-01&to=0001-01-01", "from=0001-01-01&to=9999-12-31",
    "to=9999-12-31", "since=9999-12-31T23:59:59%2B14:00", "hours=99999999999999999999", "site_id=²",
    "version=%22%00", "include_hub=%FF",
])
async def test_hostile_query_strings_are_4xx_or_answered(hub: HubHandle, http: aiohttp.ClientSession, query: str) -> None:
    for route in _routes(hub):
        if route.method != "GET":
            continue
        for path in list(_paths(route))[:1]:
            async with http.get(f"{hub.url}{path}?{query}", headers=hub.auth()) as resp:
                await _check(resp, (path, query))


async def test_an_id_query_that_is_not_an_id_is_named(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{hub.url}/api/v1/invitations?series_id=²", headers=hub.auth()) as resp:
        assert resp.status == 400 and (await resp.json())["field"] == "series_id"
    async with http.get(f"{hub.url}/api/v1/alarms/9223372036854775808/ack", headers=hub.auth()) as resp:
        assert resp.status in (404, 405)


async def test_calendar_edges_on_a_real_series(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    series = {"title": "ประชุม", "organizer_email": "po@udon.example", "districts": ["UDN01"],
              "start_date": "2031-04-12", "end_date": "2031-04-13", "start_time": "09:00", "duration_min": 30,
              "recurrence": "daily"}
    async with http.post(f"{hub.url}/api/v1/series", json=series, headers=hub.auth()) as resp:
        assert resp.status == 201, await resp.text()
        sid = (await resp.json())["id"]
    cases = [
        ("POST", f"/api/v1/series/{sid}/occurrences/9999-12-31/skip", None),
        ("POST", f"/api/v1/series/{sid}/occurrences/0001-01-01/skip", None),
        ("POST", f"/api/v1/series/{sid}/occurrences/2031-04-12/move", {"start": "9999-12-31T23:59"}),
        ("POST", f"/api/v1/series/{sid}/occurrences/2031-04-12/move", {"start": "0001-01-01T00:00"}),
        ("PATCH", f"/api/v1/series/{sid}", {"end_date": "9999-12-31"}),
        ("PATCH", f"/api/v1/series/{sid}", {"start_date": "0001-01-01"}),
        ("GET", "/api/v1/occurrences?from=9999-12-31", None),
        ("GET", "/api/v1/occurrences?to=0001-01-01&from=0001-01-01", None),
    ]
    for method, path, body in cases:
        async with http.request(method, hub.url + path, json=body, headers=hub.auth()) as resp:
            await _check(resp, (method, path, body))


async def test_error_bodies_are_valid_json_with_quotes(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    for path in ('/api/v1/sites/UD"N', '/api/v1/sites/UD"N/link', "/api/v1/sites/%22%7D/link/history",
                 '/agent/updates/1"/package'):
        async with http.get(hub.url + path, headers=hub.auth()) as resp:
            assert 400 <= resp.status < 500
            json.loads(await resp.text())


async def test_server_header_names_no_versions_and_500s_carry_the_headers(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    for path in ("/login", "/api/v1/no-such", "/no-such-page", "/static/no-such.css", "/healthz"):
        async with http.get(hub.url + path) as resp:
            assert resp.headers["Server"] == "salaklang", path
            assert resp.headers["X-Frame-Options"] == "DENY" and "frame-ancestors" in resp.headers["Content-Security-Policy"]


async def test_browser_websockets_check_origin(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    ws_url = hub.url.replace("http", "ws") + "/api/v1/events/ws"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url, headers={**hub.auth("viewer"), "Origin": "https://evil.example"})
    assert refused.value.status == 403
    ws = await http.ws_connect(ws_url, headers={**hub.auth("viewer"), "Origin": hub.url})
    await ws.close()
    # The agents' socket: agents send no Origin, a browser page on another site is refused.
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(hub.url.replace("http", "ws") + "/agent/ws", headers={"Origin": "https://evil.example"})


async def test_pages_render_or_refuse_cleanly_for_a_bearer_token(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    config = await hub.enrol_agent("UDN14")
    for path in ("/", "/schedule", "/conference", "/reports", "/admin", "/districts/UDN01", "/login"):
        async with http.get(hub.url + path, headers=hub.auth("admin"), allow_redirects=False) as resp:
            assert resp.status == 200, (path, resp.status)
        async with http.get(hub.url + path, headers=hub.auth("viewer"), allow_redirects=False) as resp:
            assert resp.status in (200, 403), (path, resp.status)
        # A district's site token is not an operator's: refused, never a 500.
        async with http.get(hub.url + path, headers={"Authorization": f"Bearer {config.token}"},
                            allow_redirects=False) as resp:
            assert resp.status in (200, 401), (path, resp.status)


async def test_metrics_are_private_by_default(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{hub.url}/metrics") as resp:
        assert resp.status == 401
    async with http.get(f"{hub.url}/metrics", headers=hub.auth("viewer")) as resp:
        assert resp.status == 200 and "salaklang_agents_connected" in await resp.text()
    hub.settings.metrics_loopback = True  # a Prometheus on the hub's own machine
    async with http.get(f"{hub.url}/metrics") as resp:
        assert resp.status == 200
