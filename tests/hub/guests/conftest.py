"""A real hub on loopback with the guests room, a real SMTP server, and series placed in time
around "now" so a link is open, not yet open, or closed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from hub.settings import Settings
from tests.conftest import HubHandle, free_port
from tests.hub.briefings.harness import MailSink, smtp_server

BKK = ZoneInfo("Asia/Bangkok")


def guest_settings(tmp: Path, smtp_port: int, **over: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp / "var", "port": 0, "host": "127.0.0.1",
        # No media worker: phase 1 of issue 15 stops at the validated offer.
        "media_enabled": False,
        "smtp_port": smtp_port, "mail_poll_s": 0.2, "mail_retry_base_s": 0.2,
        "guests_attempts_per_address": 3, "guests_attempts_per_briefing": 5, "guests_attempt_window_s": 600,
        "guests_status_wait_s": 5,
    }
    base.update(over)
    return Settings(**base)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def sink(smtp_port: int) -> Iterator[MailSink]:
    with smtp_server(smtp_port) as s:
        yield s


@pytest.fixture
def settings(tmp_path: Path, smtp_port: int) -> Settings:
    return guest_settings(tmp_path, smtp_port)


def series_at(start: datetime, *, districts: list[str] | None = None, minutes: int = 60, days: int = 1) -> dict[str, Any]:
    local = start.astimezone(BKK)
    end = local.date() + timedelta(days=days - 1)
    return {
        "title": "ประชุมติดตามสถานการณ์ความปลอดภัยทางถนน ช่วงเทศกาลสงกรานต์",
        "organizer_name": "ศาลากลางจังหวัดอุดรธานี", "organizer_email": "control@salaklang.example",
        "districts": districts or ["UDN01", "UDN02"],
        "start_date": local.date().isoformat(), "end_date": end.isoformat(),
        "start_time": f"{local:%H:%M}", "duration_min": minutes,
        "recurrence": "daily" if days > 1 else "once",
    }


class Api:
    """The chair's side: bearer tokens, JSON in and out."""

    def __init__(self, hub: HubHandle, http: aiohttp.ClientSession) -> None:
        self.hub = hub
        self.http = http

    async def __call__(self, method: str, path: str, body: Any = None, role: str = "operator") -> tuple[int, Any]:
        headers = self.hub.auth(role) if role else {}
        async with self.http.request(method, self.hub.url + path, json=body, headers=headers) as resp:
            try:
                return resp.status, await resp.json(content_type=None)
            except ValueError:
                return resp.status, await resp.text()

    async def series(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, dict[str, str]]]:
        status, series = await self("POST", "/api/v1/series", body)
        assert status == 201, series
        status, links = await self("GET", f"/api/v1/series/{series['id']}/guest-links")
        assert status == 200, links
        occ = series["occurrences"][0]["id"]
        return occ, series, links


@pytest.fixture
async def chair(hub: HubHandle) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(hub, http)


class Browser:
    """A guest's browser: its own cookie jar (the seat and the accepted passcode live there)."""

    def __init__(self, url: str, local_ip: str = "127.0.0.1") -> None:
        self.url = url
        connector = aiohttp.TCPConnector(local_addr=(local_ip, 0))
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector)
        self.csrf = ""

    async def page(self, link: str) -> tuple[int, str]:
        async with self.http.get(link) as resp:
            text = await resp.text()
            if 'data-csrf="' in text:
                self.csrf = text.split('data-csrf="', 1)[1].split('"', 1)[0]
            return resp.status, text

    async def api(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf}
        async with self.http.request(method, self.url + path, json=body, headers=headers, **kw) as resp:
            try:
                return resp.status, await resp.json(content_type=None)
            except ValueError:
                return resp.status, await resp.text()

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def browsers(hub: HubHandle) -> AsyncIterator[Any]:
    opened: list[Browser] = []

    def make(local_ip: str = "127.0.0.1") -> Browser:
        b = Browser(hub.url, local_ip)
        opened.append(b)
        return b

    yield make
    for b in opened:
        with contextlib.suppress(Exception):
            await b.close()


def link_parts(link: str) -> tuple[int, str, str]:
    """(occurrence id, token, district code) of a join link."""
    parts = urlsplit(link)
    path = parts.path.split("/")
    token = parse_qs(parts.query)["k"][0]
    return int(path[2]), token, path[4] if len(path) > 4 else ""
