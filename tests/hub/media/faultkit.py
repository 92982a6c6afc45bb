"""Fault rig for the self-healing tests and ``scripts/bench_faults.py``: a real hub, real agents, a real cut.

Topology (a per-run subnet, so two suites on one machine never share an address)::

    hub process + in-process agents (root namespace)
        │ veth 10.204.N.1 ── 10.204.N.2
    router namespace  ◄── nftables drops here, in its forward chain: both directions,
        │ veth 10.205.N.1 ── 10.205.N.2      beyond the district PC (its stack sees no send errors)
    district namespace: the faulted agent, its own process (tests/hub/media/fault_agent.py)

The hub runs as ``python -m hub serve`` (its media worker a child of it) with a
small program (320×180 at 25 fps) so five agents fit the shared two-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import av

from hub.control.enrolment import issue_code
from hub.db import create_db_engine, migrate
from hub.inventory.loader import load_inventory
from hub.inventory.sync import sync_inventory
from hub.settings import Settings
from hub.web.auth import create_api_token, create_operator
from site_agent.client import AgentClient
from site_agent.config import load_config
from site_agent.enrol import enrol
from site_agent.media.endpoint import MediaEndpoint, install

REPO = Path(__file__).resolve().parents[3]
FAULTED = "UDN01"
OTHERS = ("UDN02", "UDN03", "UDN04")
PROGRAM = {"SALAKLANG_MEDIA_WIDTH": "320", "SALAKLANG_MEDIA_HEIGHT": "180", "SALAKLANG_MEDIA_FPS": "25",
           "SALAKLANG_MEDIA_KBPS": "600"}


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


@dataclass
class Link:
    """root ── router ── district, with the fault table in the router."""

    tag: str
    n: int

    @property
    def router(self) -> str:
        return f"slk-rt-{self.tag}"

    @property
    def district(self) -> str:
        return f"slk-ds-{self.tag}"

    @property
    def hub_ip(self) -> str:
        return f"10.204.{self.n}.1"

    @property
    def agent_ip(self) -> str:
        return f"10.205.{self.n}.2"

    def up(self) -> None:
        t, n = self.tag, self.n
        sh("ip", "netns", "add", self.router)
        sh("ip", "netns", "add", self.district)
        sh("ip", "link", "add", f"slkh{t}", "type", "veth", "peer", "name", f"slkr{t}")
        sh("ip", "link", "set", f"slkr{t}", "netns", self.router)
        sh("ip", "link", "add", f"slkq{t}", "type", "veth", "peer", "name", f"slka{t}")
        sh("ip", "link", "set", f"slkq{t}", "netns", self.router)
        sh("ip", "link", "set", f"slka{t}", "netns", self.district)
        sh("ip", "addr", "add", f"{self.hub_ip}/24", "dev", f"slkh{t}")
        sh("ip", "link", "set", f"slkh{t}", "up")
        sh("ip", "route", "add", f"10.205.{n}.0/24", "via", f"10.204.{n}.2")
        r = ("ip", "netns", "exec", self.router)
        sh(*r, "ip", "addr", "add", f"10.204.{n}.2/24", "dev", f"slkr{t}")
        sh(*r, "ip", "addr", "add", f"10.205.{n}.1/24", "dev", f"slkq{t}")
        for dev in (f"slkr{t}", f"slkq{t}", "lo"):
            sh(*r, "ip", "link", "set", dev, "up")
        sh(*r, "ip", "route", "add", "default", "via", self.hub_ip)
        sh(*r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh(*r, "nft", "add", "table", "inet", "slk_fault")
        sh(*r, "nft", "add", "chain", "inet", "slk_fault", "forward", "{ type filter hook forward priority 0 ; }")
        d = ("ip", "netns", "exec", self.district)
        sh(*d, "ip", "addr", "add", f"{self.agent_ip}/24", "dev", f"slka{t}")
        sh(*d, "ip", "link", "set", f"slka{t}", "up")
        sh(*d, "ip", "link", "set", "lo", "up")
        sh(*d, "ip", "route", "add", "default", "via", f"10.205.{n}.1")

    def down(self) -> None:
        for ns in (self.district, self.router):
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", f"slkh{self.tag}", check=False)

    def _nft(self, *rule: str) -> None:
        sh("ip", "netns", "exec", self.router, "nft", *rule)

    def cut(self, what: str = "all") -> None:
        """Drop everything (``all``) or only UDP, i.e. the media (``udp``), both ways."""
        self.clear()
        if what == "udp":
            self._nft("add", "rule", "inet", "slk_fault", "forward", "meta", "l4proto", "udp", "counter", "drop")
        else:
            self._nft("add", "rule", "inet", "slk_fault", "forward", "counter", "drop")

    def loss(self, pct: int) -> None:
        self.clear()
        self._nft("add", "rule", "inet", "slk_fault", "forward", "numgen", "random", "mod", "100", "<", str(pct),
                  "counter", "drop")

    def clear(self) -> None:
        self._nft("flush", "chain", "inet", "slk_fault", "forward")

    def dropped(self) -> int:
        out = sh("ip", "netns", "exec", self.router, "nft", "list", "chain", "inet", "slk_fault", "forward").stdout
        return sum(int(w.split()[0]) for w in out.split("counter packets ")[1:])


@dataclass
class Remote:
    """The faulted district's agent process and what it reported."""

    proc: asyncio.subprocess.Process
    frames: list[float] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                self.frames.extend(data["frames"])
                self.last = data


@dataclass
class Rig:
    tmp: Path
    link: Link
    port: int
    headers: dict[str, str]
    env: dict[str, str]
    hub: asyncio.subprocess.Process | None = None
    remote: Remote | None = None
    local: dict[str, tuple[AgentClient, asyncio.Task[None], MediaEndpoint]] = field(default_factory=dict)
    local_frames: dict[str, list[float]] = field(default_factory=dict)
    conference_id: int = 0
    http: aiohttp.ClientSession | None = None
    admin_headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def call(self, method: str, path: str, body: Any = None, admin: bool = False) -> Any:
        assert self.http is not None
        headers = self.admin_headers if admin else self.headers
        async with self.http.request(method, self.url + path, json=body, headers=headers) as resp:
            data = await resp.json()
            assert resp.status in (200, 201), (resp.status, data)
            return data

    async def start_hub(self) -> None:
        log = open(self.tmp / "hub.log", "ab")
        self.hub = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub", "serve", cwd=REPO,
                                                        env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 40
        while True:
            assert time.monotonic() < deadline and self.hub.returncode is None, "hub did not start"
            with contextlib.suppress(aiohttp.ClientError, AssertionError):
                assert self.http is not None
                async with self.http.get(f"{self.url}/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)

    async def start_remote(self) -> None:
        env = {**self.env, "PYTHONPATH": str(REPO), "SALAKLANG_ALLOW_INSECURE_HTTP": "true"}
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.link.district, sys.executable, "-m", "tests.hub.media.fault_agent",
            str(self.tmp / FAULTED), cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=open(self.tmp / "agent.log", "ab"))
        self.remote = Remote(proc)
        self.remote.reader = asyncio.create_task(self.remote.read())

    async def kill_remote(self) -> None:
        assert self.remote is not None
        self.remote.proc.send_signal(signal.SIGKILL)
        await self.remote.proc.wait()

    async def start_local(self, site: str) -> None:
        client = AgentClient(load_config(self.tmp / site))
        frames = self.local_frames.setdefault(site, [])

        def on_video(frame: av.VideoFrame) -> None:
            frames.append(time.time())

        ep = install(client, on_video=on_video)
        self.local[site] = (client, asyncio.create_task(client.run()), ep)
        await client.wait_connected(timeout=20)

    async def summary(self) -> dict[str, Any]:
        return dict(await self.call("GET", f"/api/v1/conferences/{self.conference_id}"))

    async def media_state(self, site: str) -> dict[str, Any]:
        for p in (await self.summary())["participants"]:
            if p["site"] == site:
                return dict(p["media_state"])
        raise KeyError(site)

    async def stats(self) -> dict[str, Any]:
        return dict(await self.call("GET", f"/api/v1/conferences/{self.conference_id}/media"))

    async def all_in_program(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError, aiohttp.ClientError):
                parts = (await self.summary())["participants"]
                if all(p["media_state"]["state"] == "in_program" for p in parts) and self.receiving_program():
                    return True
            await asyncio.sleep(0.2)
        return False

    def receiving_program(self, window: float = 1.0, fps: float = 10.0) -> bool:
        """Every agent decoded at least ``fps`` program frames a second over the last ``window``."""
        now = time.time()
        lists = [*self.local_frames.values(), self.remote.frames if self.remote else []]
        return all(sum(1 for t in frames if t > now - window) >= fps * window for frames in lists)

    async def recovery(self, restored_at: float, timeout: float = 30.0) -> tuple[float, float]:
        """Seconds from ``restored_at`` until the faulted district is back both ways (uplink, downlink).

        Uplink: the hub shows it ``in_program`` (frames decoded at the hub) since a time after the
        restore. Downlink: the first of 0.5 s of program frames at ≥ 16 fps at the district.
        """
        assert self.remote is not None
        up = down = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (up is None or down is None):
            await asyncio.sleep(0.1)
            if up is None:
                with contextlib.suppress(AssertionError, aiohttp.ClientError):
                    m = await self.media_state(FAULTED)
                    if m["state"] == "in_program" and m["since"]:
                        since = datetime.fromisoformat(m["since"]).timestamp()
                        up = max(0.0, since - restored_at)
            if down is None:
                frames = [t for t in self.remote.frames if t >= restored_at]
                for i, t in enumerate(frames):
                    if sum(1 for u in frames[i:] if u < t + 0.5) >= 8:
                        down = t - restored_at
                        break
        return (up if up is not None else float("inf"), down if down is not None else float("inf"))

    async def close(self) -> None:
        for client, task, ep in self.local.values():
            client.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
            await ep.close()
        if self.remote is not None and self.remote.proc.returncode is None:
            self.remote.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.remote.proc.wait(), 10)
            except TimeoutError:
                self.remote.proc.kill()
                await self.remote.proc.wait()
        if self.hub is not None and self.hub.returncode is None:
            self.hub.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.hub.wait(), 20)
            except TimeoutError:
                self.hub.kill()
                await self.hub.wait()
        if self.http is not None:
            await self.http.close()


def longest_gap(times: list[float], lo: float, hi: float) -> float:
    """Longest time without a frame inside ``[lo, hi]``."""
    inside = [lo, *sorted(t for t in times if lo <= t <= hi), hi]
    return max(b - a for a, b in itertools.pairwise(inside))


RECOVER_S = 5.0  # a cut district is back within this long after its link is (issue 11)


async def cut(rig: Rig, what: str, seconds: float) -> float:
    """Cut the faulted district's link (``what``: all, udp, …) for ``seconds``; when it came back."""
    rig.link.cut(what)
    await asyncio.sleep(seconds)
    rig.link.clear()
    return time.time()


@contextlib.asynccontextmanager
async def fault_rig(tmp: Path, *, others: tuple[str, ...] = OTHERS, layout: str = "2x2",
                    extra_env: dict[str, str] | None = None) -> AsyncIterator[Rig]:
    """A hub, the faulted district behind the router, ``others`` in-process; a conference of all, in program."""
    n = os.getpid() % 250
    link = Link(f"{os.getpid() % 10000:04d}", n)
    link.down()  # a previous run of this pid that died mid-way
    link.up()
    port = free_port()
    env = {**os.environ, "SALAKLANG_DATA_DIR": str(tmp / "var"), "SALAKLANG_PORT": str(port),
           "SALAKLANG_HOST": "0.0.0.0", **PROGRAM, **(extra_env or {})}
    settings = Settings(data_dir=tmp / "var", port=port)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    sync_inventory(engine, load_inventory(settings.inventory_path))
    create_operator(engine, "chair", "long-enough-pw", "operator")
    token = create_api_token(engine, "chair", "tests")
    create_operator(engine, "chief", "long-enough-pw", "admin")
    admin = create_api_token(engine, "chief", "tests")
    sites = (FAULTED, *others)
    codes = {site: issue_code(engine, site, 3600, "test")[0] for site in sites}
    engine.dispose()
    rig = Rig(tmp, link, port, {"Authorization": f"Bearer {token}"}, env,
              admin_headers={"Authorization": f"Bearer {admin}"})
    rig.http = aiohttp.ClientSession()
    try:
        await rig.start_hub()
        # The test network has no TLS: the faulted agent talks plain http to a non-loopback hub,
        # which the agent allows only with the development flag (issue 12).
        await enrol(f"http://{link.hub_ip}:{port}", codes[FAULTED], tmp / FAULTED, allow_insecure=True)
        for site in others:
            await enrol(rig.url, codes[site], tmp / site)
        await rig.start_remote()
        for site in others:
            await rig.start_local(site)
        deadline = time.monotonic() + 30
        while True:
            board = await rig.call("GET", "/api/v1/sites")
            online = {s["code"] for s in (board if isinstance(board, list) else board.get("sites", []))
                      if s.get("online")}
            if set(sites) <= online:
                break
            assert time.monotonic() < deadline, f"agents not online: {set(sites) - online}"
            await asyncio.sleep(0.2)
        conf = await rig.call("POST", "/api/v1/conferences", {"sites": list(sites), "layout": layout})
        rig.conference_id = conf["id"]
        assert await rig.all_in_program(40), f"not every district in program: {await rig.summary()}"
        yield rig
    finally:
        await rig.close()
        link.down()
