"""A real hub on a loopback port that a test can stop and start again on the same database,
real enrolled agents (site_agent.client.AgentClient) and a real SMTP server (aiosmtpd).

The hub is the product's own app (every feature, hub.app.create_app): at T0 the conference
manager starts the conference and joins the agents' real media endpoints (its one join path)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller

from hub.app import create_app
from hub.briefings.jobs import Briefings
from hub.briefings.keys import BRIEFINGS
from hub.control.enrolment import issue_code, redeem_code
from hub.keys import ENGINE
from hub.settings import Settings
from hub.web.auth import create_api_token, create_operator
from site_agent import protocol as p
from site_agent.client import AgentClient
from site_agent.config import AgentConfig
from site_agent.media import endpoint as agent_media


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestHub:
    """Start/stop a hub; the port and the data directory survive restarts."""

    __test__ = False

    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        self.port = free_port()
        base: dict[str, Any] = {
            "data_dir": data_dir,
            "host": "127.0.0.1",
            "port": self.port,
            "offline_after_s": 30.0,
            "mail_poll_s": 0.2,
            "mail_retry_base_s": 0.2,
            "mail_retry_max_s": 0.5,
        }
        # A small program picture: the media worker runs for real, cheaply.
        base.update(media_width=320, media_height=180, media_fps=10, media_kbps=300)
        base.update(overrides)
        self.settings = Settings(**base)
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.token = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def briefings(self) -> Briefings:
        assert self.app is not None
        return self.app[BRIEFINGS]

    async def start(self) -> None:
        self.app = create_app(self.settings)
        self.runner = web.AppRunner(self.app, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        if not self.token:
            engine = self.app[ENGINE]

            def admin() -> str:
                create_operator(engine, "planner", "planner-password", "operator")
                return create_api_token(engine, "planner", "tests")

            self.token = await asyncio.to_thread(admin)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        self.runner = None
        self.app = None

    async def enrol(self, code: str, config_dir: Path) -> AgentConfig:
        assert self.app is not None
        engine = self.app[ENGINE]
        raw, _site = await asyncio.to_thread(issue_code, engine, code, 600, "test")
        enrolled = await asyncio.to_thread(redeem_code, engine, raw)
        return AgentConfig(hub_url=self.url, site=code, token=enrolled.token, config_dir=config_dir)

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession() as http, http.request(
            method, self.url + path, json=body, headers=headers
        ) as resp:
            return resp.status, await resp.json()


TIMELINE_COMMANDS = ("selftest", "reminder", "join", "leave")


@dataclass
class AgentProbe:
    """A real agent that records when each timeline command arrived.

    Its real media endpoint (site_agent.media.endpoint, synthetic camera) answers join and
    leave, as on a district PC; self-test and reminder are answered here.
    """

    client: AgentClient
    ready: bool = True
    reasons: list[str] = field(default_factory=list)
    got: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    media: agent_media.MediaEndpoint | None = None

    def install(self) -> None:
        def observe(command: p.HubCommand[Any]) -> None:
            if command.type in TIMELINE_COMMANDS:
                self.got.append((command.type, time.time(), command.model_dump(exclude={"type"})))

        self.client.add_command_observer(observe)

        async def selftest(command: p.SelfTest) -> p.SelfTestResult:
            return p.SelfTestResult(ready=self.ready, reasons=list(self.reasons), started_at=time.time(),
                                    duration_s=0.0)

        async def done(command: p.HubCommand[p.Done]) -> p.Done:
            return p.Done()

        self.client.add_command_handler(p.SelfTest, selftest)
        self.client.add_command_handler(p.Reminder, done)
        self.media = agent_media.install(self.client)

    def names(self) -> list[str]:
        return [g[0] for g in self.got]

    def times(self, name: str) -> list[float]:
        return [g[1] for g in self.got if g[0] == name]


@contextlib.asynccontextmanager
async def agents(hub: TestHub, codes: list[str], tmp: Path) -> AsyncIterator[dict[str, AgentProbe]]:
    probes: dict[str, AgentProbe] = {}
    for code in codes:
        config = await hub.enrol(code, tmp / f"agent-{code}")
        probe = AgentProbe(AgentClient(config, backoff_base=0.05, backoff_cap=0.3))
        probe.install()
        probe.task = asyncio.create_task(probe.client.run())
        probes[code] = probe
    try:
        await asyncio.gather(*(p.client.wait_connected(10) for p in probes.values()))
        yield probes
    finally:
        for p in probes.values():
            p.client.stop()
        for p in probes.values():
            assert p.task is not None
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(p.task, 5)
            # A peer connection whose hub went away mid-briefing is closed here, not by the loop's end.
            if p.media is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(p.media.close(), 5)


class MailSink:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.raw: list[bytes] = []  # as received, for a second, independent parse

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.raw.append(envelope.original_content)
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@contextlib.contextmanager
def smtp_server(port: int) -> Any:
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


async def wait_for(predicate: Any, timeout: float = 10.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
