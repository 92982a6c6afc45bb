"""Kill the hub mid-conference (SIGKILL), start it again: the conference resumes as it was.

Same layout, same floor holder, same agenda position; the agents rejoin by
themselves and the program reaches them again. The hub runs as a real
process (``python -m hub serve``); the agents run in this process so their
decoded program can be inspected.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest

from hub.control.enrolment import issue_code
from hub.db import create_db_engine, migrate
from hub.inventory.loader import load_inventory
from hub.inventory.sync import sync_inventory
from hub.settings import Settings
from hub.web.auth import create_api_token, create_operator
from site_agent.client import AgentClient
from site_agent.enrol import enrol
from site_agent.media.endpoint import install
from tests.conftest import REPO, free_port
from tests.hub.media.mediakit import COLOURS, TONES, close_to, colour_at, wait_for

SITES = ["UDN01", "UDN02"]


async def start_hub(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub", "serve", cwd=REPO, env=env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            assert time.monotonic() < deadline and proc.returncode is None, "hub did not start"
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (killed, not yet reaped by its dead parent's init) counts as gone
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


@pytest.mark.slow
async def test_sigkill_mid_conference_resumes_layout_floor_agenda(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SALAKLANG_DATA_DIR": str(tmp_path / "var"), "SALAKLANG_PORT": str(port),
           "SALAKLANG_MEDIA_WIDTH": "320", "SALAKLANG_MEDIA_HEIGHT": "180", "SALAKLANG_MEDIA_FPS": "15",
           "SALAKLANG_MEDIA_KBPS": "600", "SALAKLANG_OFFLINE_AFTER_S": "4"}
    settings = Settings(data_dir=tmp_path / "var", port=port)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    sync_inventory(engine, load_inventory(settings.inventory_path))
    create_operator(engine, "chair", "long-enough-pw", "operator")
    token = create_api_token(engine, "chair", "tests")
    codes = {site: issue_code(engine, site, 3600, "test")[0] for site in SITES}
    engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}

    hub = await start_hub(port, env)
    clients: list[tuple[AgentClient, asyncio.Task[None]]] = []
    last: dict[str, np.ndarray] = {}
    endpoints = {}
    try:
        for site in SITES:
            config = await enrol(url, codes[site], tmp_path / site)
            client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)

            def on_video(frame: av.VideoFrame, site: str = site) -> None:
                last[site] = frame.to_ndarray(format="rgb24")

            endpoints[site] = install(client, colour=COLOURS[site], tone_hz=TONES[site], on_video=on_video)
            clients.append((client, asyncio.create_task(client.run())))
            await client.wait_connected(timeout=10)

        async with aiohttp.ClientSession(headers=headers) as http:
            async def call(method: str, path: str, body: Any = None) -> Any:
                async with http.request(method, url + path, json=body) as resp:
                    data = await resp.json()
                    assert resp.status in (200, 201), (resp.status, data)
                    return data

            conf = await call("POST", "/api/v1/conferences", {"sites": SITES, "layout": "1+N"})
            cid = conf["id"]
            await call("POST", f"/api/v1/conferences/{cid}/agenda",
                       {"items": [{"site": "UDN01", "minutes": 10}, {"site": "UDN02", "minutes": 10}]})
            await call("POST", f"/api/v1/conferences/{cid}/agenda/start")
            await call("POST", f"/api/v1/conferences/{cid}/agenda/next")
            before = await call("POST", f"/api/v1/conferences/{cid}/layout", {"layout": "speaker"})
            assert before["floor"]["holder"] == "UDN02" and before["agenda"]["index"] == 1

            def full_screen_udn02(site: str) -> bool:
                img = last.get(site)
                return img is not None and close_to(colour_at(img, 160, 90), COLOURS["UDN02"])

            assert await wait_for(lambda: all(full_screen_udn02(s) for s in SITES), 10)
            worker_pid = (await call("GET", f"/api/v1/conferences/{cid}"))["media"]["pid"]
            assert worker_pid and _alive(worker_pid)

            hub.send_signal(signal.SIGKILL)
            await asyncio.wait_for(hub.wait(), 10)
            # the media worker notices its parent is gone (stdin closes) and exits
            assert await wait_for(lambda: not _alive(worker_pid), 10), "media worker outlived the hub"
            last.clear()
            killed_at = time.time()
            hub = await start_hub(port, env)

            after = await call("GET", f"/api/v1/conferences/{cid}")
            assert after["status"] == "live" and after["layout"] == "speaker"
            assert after["floor"]["holder"] == "UDN02"
            assert after["agenda"]["index"] == 1 and after["agenda"]["current"] == "UDN02"
            assert 540 < after["agenda"]["remaining_s"] <= 600 - (time.time() - killed_at) + 1
            assert after["media"]["pid"] not in (None, worker_pid)

            # the agents reconnect and rejoin by themselves; the program reaches them again
            assert await wait_for(lambda: all(full_screen_udn02(s) for s in SITES), 30), "no program after restart"
            state = await call("GET", f"/api/v1/conferences/{cid}")
            assert all(p["joined_at"] for p in state["participants"])
    finally:
        for client, task in clients:
            client.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        for ep in endpoints.values():
            await ep.close()
        if hub.returncode is None:
            hub.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(hub.wait(), 15)
            except TimeoutError:
                hub.kill()
                await hub.wait()
