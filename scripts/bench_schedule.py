#!/usr/bin/env python3
"""Benchmark: skew from each briefing's scheduled T0 to every agent having its join command.

A real hub (this process, SQLite, APScheduler job store) and 20 real agents
(site_agent.client.AgentClient, in a separate process so they do not share the
hub's event loop) on loopback; 30 one-off briefings for all 20 districts,
a few seconds apart, each running its full timeline (readiness, reminder,
open, end). Prints per-occurrence figures and ends with one JSON line:
{"occurrences": 30, "agents": 20, "skew_p50_ms": .., "skew_p99_ms": ..}

As in the product, T0 starts a conference and its media worker, and the conference
manager sends the joins (the scheduler has no join path of its own); the bench agents
acknowledge join without an SDP offer, so no media flows — the figure is control-plane
latency including the media worker's start.

Usage: .venv/bin/python scripts/bench_schedule.py [--agents 20] [--occurrences 30] [--spacing 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- the agents' process ----------------------------------------------------------------


async def run_agents(config_file: Path) -> None:
    from site_agent import protocol as p
    from site_agent.client import AgentClient
    from site_agent.config import AgentConfig

    configs = json.loads(config_file.read_text())
    clients: list[AgentClient] = []

    for c in configs:
        client = AgentClient(
            AgentConfig(hub_url=c["hub_url"], site=c["site"], token=c["token"], config_dir=Path(c["dir"])),
            backoff_base=0.1, backoff_cap=1.0,
        )

        def install(client: AgentClient, site: str) -> None:
            async def join(command: p.JoinConference) -> p.MediaOffer:
                # Received: the handler runs as soon as the frame is decoded (the conference
                # manager's join, the only one). The offer is a stub: this bench times T0 → join.
                print(f"JOIN -1 {command.conference_id} {site} {time.time():.6f}", flush=True)
                return p.MediaOffer(sdp="v=0\r\n")

            async def selftest(command: p.SelfTest) -> p.SelfTestResult:
                return p.SelfTestResult(ready=True, started_at=time.time(), duration_s=0.0)

            async def done(command: p.HubCommand[p.Done]) -> p.Done:
                return p.Done()

            client.add_command_handler(p.JoinConference, join)
            client.add_command_handler(p.SelfTest, selftest)
            client.add_command_handler(p.Reminder, done)
            client.add_command_handler(p.LeaveConference, done)

        install(client, c["site"])
        clients.append(client)
    tasks = [asyncio.create_task(c.run()) for c in clients]
    await asyncio.gather(*(c.wait_connected(30) for c in clients))
    print("CONNECTED", flush=True)
    # Run until the parent closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for c in clients:
        c.stop()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- the hub's side ----------------------------------------------------------------------


async def bench(n_agents: int, n_occ: int, spacing: float) -> dict[str, Any]:
    from aiohttp import web

    from hub.app import create_app
    from hub.briefings.keys import BRIEFINGS
    from hub.control.enrolment import issue_code, redeem_code
    from hub.control.registry import REGISTRY
    from hub.keys import ENGINE
    from hub.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-schedule-"))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(
        data_dir=tmp / "hub", host="127.0.0.1", port=port, offline_after_s=60,
        # T−15/T−10 minutes compressed to seconds; the reminder (which starts the media worker)
        # keeps enough lead for a worker process to come up, as T−10 min does in real life.
        schedule_readiness_lead_s=1.9, schedule_reminder_lead_s=1.5, schedule_selftest_timeout_s=1,
        mail_poll_s=60,
    )
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    codes = [f"UDN{i:02d}" for i in range(1, n_agents + 1)]
    configs = []
    for code in codes:
        raw, _ = await asyncio.to_thread(issue_code, app[ENGINE], code, 600, "bench")
        enrolled = await asyncio.to_thread(redeem_code, app[ENGINE], raw)
        configs.append({"hub_url": f"http://127.0.0.1:{port}", "site": code, "token": enrolled.token,
                        "dir": str(tmp / f"agent-{code}")})
    cfg_file = tmp / "agents.json"
    cfg_file.write_text(json.dumps(configs))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--agents-worker", str(cfg_file),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stdin is not None
    joins: list[tuple[int, int, str, float]] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            parts = line.decode().split()
            if parts and parts[0] == "JOIN":
                joins.append((int(parts[1]), int(parts[2]), parts[3], float(parts[4])))

    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.strip() == b"CONNECTED", line
    reader = asyncio.create_task(read())
    deadline = time.monotonic() + 30
    while len(app[REGISTRY].online_codes()) < n_agents and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    print(f"{len(app[REGISTRY].online_codes())} agents connected to the hub on port {port}")

    zone = ZoneInfo(settings.timezone)
    first = datetime.now(zone).replace(microsecond=0) + timedelta(seconds=5)
    t0s: dict[int, float] = {}
    briefings = app[BRIEFINGS]
    duration_min = max(0.5, spacing - 0.5) / 60
    for i in range(n_occ):
        at = first + timedelta(seconds=spacing * i)
        series = await briefings.create_series(
            {
                "title": f"ทดสอบสมรรถนะ {i + 1}", "organizer_email": "po@udon.example", "districts": codes,
                "start_date": at.date().isoformat(), "start_time": at.strftime("%H:%M:%S"),
                "duration_min": duration_min, "recurrence": "once",
            },
            "bench",
        )
        t0s[series["occurrences"][0]["id"]] = at.timestamp()
    created = time.time()
    print(f"{n_occ} briefings scheduled, first T0 in {first.timestamp() - created:.1f} s, every {spacing:g} s")
    last_end = max(t0s.values()) + duration_min * 60 + 2
    while time.time() < last_end:
        await asyncio.sleep(0.2)

    conf_of = {oid: (await asyncio.to_thread(briefings.board, oid))["occurrence"]["conference_id"] for oid in t0s}
    per_occ: list[float] = []
    per_agent: list[float] = []
    missing = 0
    for oid, t0 in sorted(t0s.items()):
        got: dict[str, float] = {}
        for o, conf, site, t in joins:
            if (o == oid or (conf_of[oid] is not None and conf == conf_of[oid])) and site not in got:
                got[site] = t
        missing += n_agents - len(got)
        if not got:
            continue
        skews = [(t - t0) * 1000 for t in got.values()]
        per_agent.extend(skews)
        per_occ.append(max(skews))
        print(f"occurrence {oid:3d}: {len(got):2d}/{n_agents} joined, last join +{max(skews):7.1f} ms "
              f"(first +{min(skews):6.1f} ms)")
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 20)
    reader.cancel()
    await runner.cleanup()
    result = {
        "occurrences": n_occ,
        "agents": n_agents,
        "skew_p50_ms": round(percentile(per_occ, 0.50), 1),
        "skew_p99_ms": round(percentile(per_occ, 0.99), 1),
    }
    print(f"skew T0 → every agent has its join (per occurrence, worst agent): "
          f"p50 {result['skew_p50_ms']} ms, p99 {result['skew_p99_ms']} ms, max {max(per_occ):.1f} ms")
    print(f"skew T0 → each agent's join (all {len(per_agent)} joins): p50 {percentile(per_agent, 0.5):.1f} ms, "
          f"p99 {percentile(per_agent, 0.99):.1f} ms; joins missing: {missing}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--occurrences", type=int, default=30)
    parser.add_argument("--spacing", type=float, default=2.0, help="seconds between consecutive T0s (whole seconds)")
    parser.add_argument("--agents-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agents_worker:
        asyncio.run(run_agents(args.agents_worker))
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(bench(args.agents, args.occurrences, args.spacing))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
