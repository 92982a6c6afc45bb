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
import base64
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

from site_agent import protocol as p  # noqa: E402


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
    from hub.control.enrolment import issue_code, redeem_code
    from hub.db import create_db_engine, migrate
    from hub.inventory.loader import load_inventory
    from hub.inventory.sync import sync_inventory
    from hub.settings import Settings
    from hub.web.auth import create_api_token, create_operator

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
#
# Each simulated agent is an asyncio.Protocol speaking WebSocket directly: frames are
# handled inside data_received, with no task wake-up per socket. With aiohttp's client
# (one reader task per socket) the load process, not the hub, set the latency tail:
# 1,000 wake-ups per broadcast on the same two cores the hub runs on.


class RawAgent(asyncio.Protocol):
    def __init__(self, site: str, token: str, host: str, path: str, shared: Shared) -> None:
        self.site, self.token, self.host, self.path, self.shared = site, token, host, path, shared
        self.buffer = b""
        self.upgraded = False
        self.welcomed = False
        self.transport: asyncio.Transport | None = None
        self.seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def send_text(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        # Client frames must be masked; an all-zero mask is valid and leaves the payload as is.
        header = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        assert self.transport is not None
        self.transport.write(header + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            assert head.startswith(b"HTTP/1.1 101"), head[:80]
            self.upgraded, self.buffer = True, rest
            self.send_text(p.encode(p.Hello(site=self.site, token=self.token, agent_version="0.1.0")))
        while len(self.buffer) >= 2:
            b0, b1 = self.buffer[0], self.buffer[1]
            n, offset = b1 & 0x7F, 2
            if n == 126:
                if len(self.buffer) < 4:
                    return
                n, offset = int.from_bytes(self.buffer[2:4], "big"), 4
            elif n == 127:
                if len(self.buffer) < 10:
                    return
                n, offset = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < offset + n:
                return
            payload, self.buffer = self.buffer[offset : offset + n], self.buffer[offset + n :]
            if b0 & 0x0F == 0x1:
                self.on_text(payload)

    def on_text(self, payload: bytes) -> None:
        received = time.time()
        data = json.loads(payload)
        kind = data["type"]
        if kind == "command":
            if data["command"]["type"] == "ping":
                self.shared.latencies.append((received - data["sent_at"]) * 1000)
            # A real ack, formatted without pydantic so the load generator stays light.
            self.send_text('{"type":"ack","id":"%s","ok":true}' % data["id"])  # noqa: UP031
        elif kind == "welcome" and not self.welcomed:
            self.welcomed = True
            self.shared.connected += 1
            if self.shared.connected == self.shared.total:
                self.shared.ready.set()

    def beat(self) -> None:
        if not self.welcomed or self.transport is None or self.transport.is_closing():
            return
        self.send_text(p.encode(p.Heartbeat(seq=self.seq, sent_at=time.time())))
        if self.seq % 2 == 0:
            self.send_text(p.encode(p.LinkReport(source="probe", step_s=10, probes=20, rtt_ms_median=1.2,
                                                 jitter_ms=0.1, loss_pct=0.0, tmax_ms=1000,
                                                 measured_at=time.time())))
        self.seq += 1


class Shared:
    def __init__(self, total: int) -> None:
        self.total = total
        self.connected = 0
        self.latencies: list[float] = []
        self.ready = asyncio.Event()


async def load_main(url: str, tokens_file: str, out_file: str, run_s: float) -> None:
    tokens = json.loads(Path(tokens_file).read_text())
    shared = Shared(len(tokens))
    rest = url.split("://", 1)[1]
    hostport, path = rest.split("/", 1)
    host, port = hostport.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    started = time.time()
    agents: list[RawAgent] = []
    for site, token in tokens.items():
        agent = RawAgent(site, token, hostport, "/" + path, shared)
        await loop.create_connection(lambda a=agent: a, host, int(port))  # type: ignore[misc]
        agents.append(agent)
    await asyncio.wait_for(shared.ready.wait(), 120)
    Path(out_file + ".ready").write_text(json.dumps({"connect_all_s": time.time() - started}))
    # One timer for all agents, each with its own phase: heartbeats every 5 s, reports every 10 s.
    phase = {id(a): random.uniform(0, 5) for a in agents}
    next_beat = {id(a): time.monotonic() + phase[id(a)] for a in agents}
    deadline = time.time() + run_s
    while time.time() < deadline and not Path(out_file + ".stop").exists():
        now = time.monotonic()
        for a in agents:
            if next_beat[id(a)] <= now:
                a.beat()
                next_beat[id(a)] = now + 5
        await asyncio.sleep(0.05)
    Path(out_file).write_text(json.dumps({"latencies_ms": shared.latencies, "connected": shared.connected}))
    for a in agents:
        if a.transport is not None:
            a.transport.close()


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
            result = api_post(port, api_token, "/api/v1/commands/broadcast", {"name": "ping", "args": {}})
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
