#!/usr/bin/env python3
"""The district agent's start-up time and idle footprint (no media).

    .venv/bin/python scripts/bench_agent.py [--runs 5] [--idle-seconds 180]

A real hub runs in this process on a loopback port (temp SQLite, the Udon
Thani inventory). The agent is the real headless agent with every installed
feature (`python -m site_agent run --no-tray`), started as a fresh process
each time: "cold start to connected" is from spawning
the process to the hub registering the site online. Then one agent stays
connected for --idle-seconds while its CPU time and RSS are sampled with
psutil. Ends with one JSON line:
{"connect_median_s": .., "idle_cpu_pct": .., "idle_rss_mb": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.app import create_app  # noqa: E402
from hub.control.enrolment import issue_code, redeem_code  # noqa: E402
from hub.control.registry import REGISTRY  # noqa: E402
from hub.keys import ENGINE  # noqa: E402
from hub.settings import Settings  # noqa: E402
from site_agent.config import AgentConfig  # noqa: E402


def agent_cmd(config_dir: Path) -> list[str]:
    return [sys.executable, "-m", "site_agent", "--config-dir", str(config_dir), "run", "--no-tray",
            "--log-level", "WARNING"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=180.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    app = create_app(Settings(data_dir=tmp / "hub", port=0))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    code, _ = issue_code(app[ENGINE], "UDN17", 3600, "bench")
    enrolled = redeem_code(app[ENGINE], code)
    config = AgentConfig(hub_url=url, site="UDN17", token=enrolled.token, config_dir=tmp / "agent")
    config.save()
    registry = app[REGISTRY]
    env = dict(os.environ, PYTHONPATH=str(ROOT), SALAKLANG_AGENT_LOG_DIR=str(tmp / "logs"))

    async def wait(pred: object, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not pred():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise TimeoutError("agent did not connect")
            await asyncio.sleep(0.005)

    times: list[float] = []
    for i in range(args.runs):
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(*agent_cmd(config.config_dir), env=env, cwd=tmp)
        await wait(lambda: registry.is_online("UDN17"), 30)
        times.append(time.perf_counter() - t0)
        print(f"run {i + 1}: connected in {times[-1]:.3f} s", flush=True)
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
        await wait(lambda: not registry.is_online("UDN17"), 30)

    proc = await asyncio.create_subprocess_exec(*agent_cmd(config.config_dir), env=env, cwd=tmp)
    await wait(lambda: registry.is_online("UDN17"), 30)
    ps = psutil.Process(proc.pid)
    await asyncio.sleep(5)  # let start-up work (imports, first update check) finish
    cpu0, t0 = sum(ps.cpu_times()[:2]), time.monotonic()
    rss: list[float] = []
    end = t0 + args.idle_seconds
    while time.monotonic() < end:
        rss.append(ps.memory_info().rss / 2**20)
        await asyncio.sleep(min(5.0, args.idle_seconds / 10))
    cpu1, t1 = sum(ps.cpu_times()[:2]), time.monotonic()
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 10)
    await runner.cleanup()

    result = {
        "connect_median_s": round(statistics.median(times), 3),
        "idle_cpu_pct": round(100.0 * (cpu1 - cpu0) / (t1 - t0), 3),
        "idle_rss_mb": round(max(rss), 1),
    }
    print(f"connect times (s): {', '.join(f'{t:.3f}' for t in times)}")
    print(f"idle over {t1 - t0:.0f} s: CPU {result['idle_cpu_pct']} %, peak RSS {result['idle_rss_mb']} MB")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
