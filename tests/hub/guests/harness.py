"""The browser tests' hub: the real app on a loopback port in a thread of its own (Playwright's
sync API owns the test's thread), a real SMTP server, and the helpers the join-page tests and
the end-to-end guest tests share."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.sync_api import Page

from hub.app import create_app
from hub.keys import ENGINE
from hub.web.auth import create_api_token, create_operator
from tests.conftest import free_port

from .conftest import guest_settings

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


class ThreadHub:
    """The real app on a loopback port, in a thread with its own loop."""

    def __init__(self, tmp: Path, smtp_port: int, **over: Any) -> None:
        self.port = free_port()
        self.settings = guest_settings(tmp, smtp_port, port=self.port, **over)
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.token = ""
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

        async def up() -> None:
            app = create_app(self.settings)
            self.app = app
            self.runner = web.AppRunner(app, handle_signals=False)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
            engine = app[ENGINE]
            await asyncio.to_thread(create_operator, engine, "chair", "chair-password-1", "operator")
            self.token = await asyncio.to_thread(create_api_token, engine, "chair", "tests")

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(60)

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def wait(predicate: Any, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        time.sleep(0.1)


def link_from_mail(msg: EmailMessage) -> str:
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    assert isinstance(text, EmailMessage)
    found = re.findall(r"http://127\.0\.0\.1:\d+/briefings/\d+\?k=[A-Za-z0-9_\-]+", text.get_content())
    assert found, text.get_content()
    return found[0]


def tap(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44, (selector, box)  # touch-sized
    page.locator(selector).tap()
