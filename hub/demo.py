"""`python -m hub demo`: the hub on SQLite plus simulated districts.

Each district is a real ``site_agent`` process, enrolled with a real
one-time code and holding a real WebSocket on loopback; "simulated" only
means its camera and microphone are synthetic. The board can stop and start
each one (demo only) to show a district dropping off and coming back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from hub import audit
from hub.app import create_app
from hub.control.enrolment import issue_code
from hub.control.registry import REGISTRY
from hub.keys import DEMO, ENGINE
from hub.logsetup import setup_logging
from hub.settings import Settings
from hub.updates import release_key
from hub.web.auth import create_api_token, create_operator, require_role
from hub.web.errors import json_error
from hub.web.openapi import api, respond
from site_agent.enrol import enrol

log = logging.getLogger("hub.demo")


class DemoAgents:
    """Starts and stops one agent process per simulated district."""

    def __init__(self, root: Path, hub_url: str, media: bool) -> None:
        self.root = root
        self.hub_url = hub_url
        self.media = media
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.dirs: dict[str, Path] = {}

    async def enrol(self, engine: Any, codes: list[str]) -> None:
        for code in codes:
            one_time, _ = await asyncio.to_thread(issue_code, engine, code, 3600, "demo")
            config_dir = self.root / "agents" / code
            await enrol(self.hub_url, one_time, config_dir)
            self.dirs[code] = config_dir

    def running(self, code: str) -> bool:
        proc = self.procs.get(code)
        return proc is not None and proc.returncode is None

    async def start(self, code: str) -> bool:
        if code not in self.dirs:
            return False
        if self.running(code):
            return True
        log_path = self.root / "agents" / f"{code}.log"
        args = [sys.executable, "-m", "site_agent", "--config-dir", str(self.dirs[code]), "run",
                "--no-tray", "--backoff-cap", "5", "--log-level", "INFO"]
        args.append("--demo" if self.media else "--no-media")
        with log_path.open("ab") as log_file:
            self.procs[code] = await asyncio.create_subprocess_exec(
                *args, stdout=log_file, stderr=log_file, stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return True

    async def stop(self, code: str) -> bool:
        proc = self.procs.get(code)
        if proc is None or proc.returncode is not None:
            return False
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        return True

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(code) for code in list(self.procs)))

    def status(self) -> list[dict[str, Any]]:
        return [{"site": code, "running": self.running(code),
                 "pid": self.procs[code].pid if code in self.procs else None} for code in sorted(self.dirs)]


# The simulated districts' processes (demo only).
DEMO_AGENTS = web.AppKey("demo_agents", DemoAgents)


class DemoAgentOut(BaseModel):
    site: str
    running: bool
    pid: int | None


class DemoActionOut(BaseModel):
    site: str
    action: str  # stop | start
    changed: bool
    running: bool


@api("The demo's simulated district agents (hub demo only)", role="viewer", response=list[DemoAgentOut],
     tags=("demo",))
async def _demo_agents(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    demo = request.app[DEMO_AGENTS]
    return respond([DemoAgentOut(**row) for row in demo.status()])


@api("Stop or start one simulated district agent (hub demo only; audited)", role="operator",
     response=DemoActionOut, tags=("demo",))
async def _demo_action(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    demo = request.app[DEMO_AGENTS]
    code, action = request.match_info["code"], request.match_info["action"]
    if code not in demo.dirs:
        raise json_error(404, "no simulated agent for that site")
    changed = await (demo.stop(code) if action == "stop" else demo.start(code))
    await audit.arecord(request.app[ENGINE], actor=principal.actor, action=f"demo.agent_{action}", target=code)
    return respond(DemoActionOut(site=code, action=action, changed=bool(changed), running=demo.running(code)))


async def run_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    root = Path(args.data_dir)
    if root.exists():
        shutil.rmtree(root)  # a demo starts from a clean province every time
    root.mkdir(parents=True)
    # Short probe steps so the board shows link figures within seconds, not a minute.
    # A 640x360 program: twenty agent processes decode it on the same machine as the hub.
    # A demo province key, made fresh (the demo's updates are signed and checked like the
    # real ones; there is no switch that turns the check off): demo-release-key.pem signs.
    public_key = release_key.new_key(root / "demo-release-key.pem")
    settings = Settings(data_dir=root, host="127.0.0.1", port=args.port, linkhealth_step_s=10,
                        media_width=640, media_height=360, update_public_key=public_key)
    app = create_app(settings)
    app.router.add_get("/api/v1/demo/agents", _demo_agents)
    app.router.add_post("/api/v1/demo/agents/{code}/{action:stop|start}", _demo_action)
    demo = DemoAgents(root, "", media=not args.no_media)
    # Before start-up: a running app's state is frozen.
    app[DEMO] = True
    app[DEMO_AGENTS] = demo
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:  # the port is taken
        await runner.cleanup()
        print(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    engine = app[ENGINE]
    password = args.password or secrets.token_urlsafe(9)
    await asyncio.to_thread(create_operator, engine, "admin", password, "admin", "ผู้ดูแลระบบ (สาธิต)")
    if args.token:
        await asyncio.to_thread(create_api_token, engine, "admin", "demo --token", args.token)
    registry = app[REGISTRY]
    districts = [live.code for live in registry.live.values() if live.kind == "district"]
    districts = sorted(districts)[: max(0, min(args.agents, 20))]
    demo.hub_url = url
    await demo.enrol(engine, districts)
    for code in districts:
        await demo.start(code)
    print(f"Salaklang demo: {url}", flush=True)
    print(f"  login: admin / {password}", flush=True)
    if args.token:
        print("  API: Authorization: Bearer <the --token you gave>", flush=True)
    print(f"  {len(districts)} simulated districts starting (logs in {root / 'agents'}); Ctrl-C stops", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("stopping…", flush=True)
    with contextlib.suppress(Exception):
        await demo.stop_all()
    await runner.cleanup()
    return 0
