#!/usr/bin/env python3
"""Control-plane load: N lightweight agents (real protocol) against one real hub; fan-out latency.

    .venv/bin/python scripts/bench_control.py --agents 1000

The hub runs as `python -m hub serve` in its own process; the agents run in a
separate load process (one asyncio loop, plain aiohttp WebSockets speaking
site_agent.protocol): hello with a real site token, a heartbeat every 5 s, a
link report every 10 s, an ack for every command. The hub then broadcasts a
command 50 times; each agent records receipt time minus the hub's send stamp
(Command.sent_at, set when the hub builds the frame). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_inventory(path: Path, n: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for name in ("defaults.yaml", "groups.yaml"):
        shutil.copy(ROOT / "inventory" / name, path / name)
    lines = ["UDN00:", "  groups: [hub]", '  name_th: "ศาลากลางจังหวัดอุดรธานี"', '  name_en: "Udon Thani Provincial Hall"',
             "  distance_km: 0", '  contact_phone: "042-241-500"', '  contact_email: "hub@salaklang.example"',
             "  link:", "    snmp:", "      host: 10.41.0.1", ""]
    for i in range(1, n + 1):
        code = f"B{i:04d}"
        lines += [f"{code}:", "  groups: [district]", f'  name_th: "อำเภอทดสอบ {i}"', f'  name_en: "Bench district {i}"',
                  f"  distance_km: {i % 140 + 1}", '  contact_phone: "042-000-000"',
                  f'  contact_email: "{code.lower()}@salaklang.example"', "  link:", "    snmp:",
                  f"      host: 10.{i // 250}.{i % 250}.1", ""]
    (path / "sites.yaml").write_text("\n".join(lines), encoding="utf-8")


def prepare(data: Path, inventory: Path, n: int) -> tuple[str, dict[str, str]]:
    """Database with N enrolled sites (real codes redeemed) and an admin API token."""
    from hub.auth import create_api_token, create_operator
    from hub.db import create_db_engine, migrate
    from hub.enrolment import issue_code, redeem_code
    from hub.inventory import load_inventory, sync_inventory
    from hub.settings import Settings

    settings = Settings(data_dir=data, inventory_path=inventory)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    sync_inventory(engine, load_inventory(inventory))
    create_operator(engine, "bench", "bench-password", "operator")
    token = create_api_token(engine, "bench", "bench")
    tokens = {}
    for i in range(1, n + 1):
        code = f"B{i:04d}"
        one_time, _ = issue_code(engine, code, 3600, "bench")
        tokens[code] = redeem_code(engine, one_time).token
    engine.dispose()
    return token, tokens


# --- the load process -----------------------------------------------------------------


async def agent(url: str, site: str, token: str, latencies: list[float], ready: asyncio.Event,
                counter: list[int], n: int, stop: asyncio.Event) -> None:
    import aiohttp

    from site_agent import protocol as p

    async with aiohttp.ClientSession() as http:
        for attempt in range(20):
            try:
                ws = await http.ws_connect(url, heartbeat=None)
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            return
        await ws.send_str(p.encode(p.Hello(site=site, token=token, agent_version="0.1.0")))
        welcome = json.loads((await ws.receive()).data)
        assert welcome["type"] == "welcome", welcome
        counter[0] += 1
        if counter[0] == n:
            ready.set()

        async def beat() -> None:
            seq = 0
            await asyncio.sleep(random.uniform(0, 5))  # real agents are not in phase
            while True:
                await ws.send_str(p.encode(p.Heartbeat(seq=seq, sent_at=time.time())))
                if seq % 2 == 0:
                    await ws.send_str(p.encode(p.LinkReport(source="probe", step_s=10, probes=20, rtt_ms_median=1.2,
                                                            jitter_ms=0.1, loss_pct=0.0, tmax_ms=1000,
                                                            measured_at=time.time())))
                seq += 1
                await asyncio.sleep(5)

        beat_task = asyncio.create_task(beat())
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            received = time.time()
            data = json.loads(msg.data)
            if data["type"] == "command":
                if data["name"] == "bench":
                    latencies.append((received - data["sent_at"]) * 1000)
                # A real ack, formatted without pydantic so the load generator stays light.
                await ws.send_str('{{"type":"ack","id":"{}","ok":true}}'.format(data["id"]))
            if stop.is_set():
                break
        beat_task.cancel()


async def load_main(url: str, tokens_file: str, out_file: str, run_s: float) -> None:
    tokens = json.loads(Path(tokens_file).read_text())
    latencies: list[float] = []
    ready = asyncio.Event()
    stop = asyncio.Event()
    counter = [0]
    started = time.time()
    tasks = [asyncio.create_task(agent(url, s, t, latencies, ready, counter, len(tokens), stop))
             for s, t in tokens.items()]
    await asyncio.wait_for(ready.wait(), 120)
    Path(out_file + ".ready").write_text(json.dumps({"connect_all_s": time.time() - started}))
    deadline = time.time() + run_s
    while time.time() < deadline and not Path(out_file + ".stop").exists():
        await asyncio.sleep(0.2)
    Path(out_file).write_text(json.dumps({"latencies_ms": latencies, "connected": counter[0]}))
    stop.set()
    for t in tasks:
        t.cancel()


# --- orchestration -----------------------------------------------------------------------


def api_post(port: int, token: str, path: str, body: dict[str, object]) -> dict[str, object]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return dict(json.load(resp))


def wait_file(path: Path, timeout: float) -> dict[str, object]:
    deadline = time.time() + timeout
    while not path.exists():
        if time.time() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.1)
    time.sleep(0.05)
    return dict(json.loads(path.read_text()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--broadcasts", type=int, default=50)
    parser.add_argument("--steady-s", type=float, default=20.0, help="steady-state window for CPU/RSS")
    parser.add_argument("--load-procs", type=int, default=1, help="load-generator processes sharing the agents")
    parser.add_argument("--load", nargs=4, metavar=("URL", "TOKENS", "OUT", "RUN_S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        url, tokens_file, out_file, run_s = args.load
        asyncio.run(load_main(url, tokens_file, out_file, float(run_s)))
        return 0

    import psutil

    from tests.conftest import free_port

    work = Path(tempfile.mkdtemp(prefix="bench-control-"))
    inventory = work / "inventory"
    make_inventory(inventory, args.agents)
    t0 = time.time()
    api_token, tokens = prepare(work / "var", inventory, args.agents)
    print(f"prepared {args.agents} enrolled sites in {time.time() - t0:.1f} s", flush=True)
    shares = [dict(list(tokens.items())[i :: args.load_procs]) for i in range(args.load_procs)]
    for i, share in enumerate(shares):
        (work / f"tokens{i}.json").write_text(json.dumps(share))
    port = free_port()
    env = {**os.environ, "SALAKLANG_DATA_DIR": str(work / "var"), "SALAKLANG_INVENTORY_PATH": str(inventory),
           "SALAKLANG_PORT": str(port), "SALAKLANG_AGENT_FLOOD_CLOSE_AFTER": "100000",
           # The bench's agents speak only the core protocol; keep feature pushes quiet.
           "SALAKLANG_LINKHEALTH_HUB_SNMP_POLL": "false"}
    hub = subprocess.Popen([sys.executable, "-m", "hub", "serve", "--log-level", "WARNING"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    outs = [work / f"load{i}.json" for i in range(args.load_procs)]
    loads: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        hub_ps = psutil.Process(hub.pid)
        run_s = args.steady_s + args.broadcasts * 0.2 + 60
        loads = [subprocess.Popen([sys.executable, __file__, "--load", f"ws://127.0.0.1:{port}/agent/ws",
                                   str(work / f"tokens{i}.json"), str(out), str(run_s)], cwd=ROOT)
                 for i, out in enumerate(outs)]
        connect_all_s = max(float(wait_file(Path(str(out) + ".ready"), 180)["connect_all_s"])  # type: ignore[arg-type]
                            for out in outs)
        print(f"{args.agents} agents connected in {connect_all_s:.2f} s", flush=True)
        time.sleep(5)  # let the connect burst settle
        hub_ps.cpu_percent(None)
        time.sleep(args.steady_s)
        hub_cpu = hub_ps.cpu_percent(None)
        hub_rss = hub_ps.memory_info().rss / 2**20
        print(f"steady state over {args.steady_s:.0f} s: hub CPU {hub_cpu:.1f} % of one core, RSS {hub_rss:.0f} MB",
              flush=True)
        sent_total = 0
        loop_ms: list[float] = []
        for _ in range(args.broadcasts):
            result = api_post(port, api_token, "/api/v1/commands/broadcast", {"name": "bench", "args": {}})
            sent_total += int(result["sent"])  # type: ignore[call-overload]
            loop_ms.append(float(result["took_ms"]))  # type: ignore[arg-type]
            time.sleep(0.2)
        time.sleep(2)
        lat: list[float] = []
        for out, load in zip(outs, loads, strict=True):
            Path(str(out) + ".stop").write_text("")
            load.wait(60)
            lat += json.loads(out.read_text())["latencies_ms"]
        print(f"broadcasts: {args.broadcasts} × {args.agents} = {sent_total} sent, {len(lat)} received")
        p50, p99 = statistics.median(lat), percentile(lat, 99)
        print(f"fan-out latency (hub send stamp → agent receipt): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"max {max(lat):.1f} ms")
        print(f"hub send loop for all {args.agents} sockets: p50 {statistics.median(loop_ms):.1f} ms, "
              f"max {max(loop_ms):.1f} ms (the rest is {args.load_procs} load process(es) draining {args.agents} sockets on the same cores)")
        print(json.dumps({"agents": args.agents, "connect_all_s": round(connect_all_s, 2),
                          "fanout_p50_ms": round(p50, 1), "fanout_p99_ms": round(p99, 1),
                          "hub_cpu_pct": round(hub_cpu, 1), "hub_rss_mb": round(hub_rss, 1)}))
        return 0
    finally:
        for load in loads:
            if load.poll() is None:
                load.kill()
        hub.terminate()
        try:
            hub.wait(20)
        except subprocess.TimeoutExpired:
            hub.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
