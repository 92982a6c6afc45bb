#!/usr/bin/env python3
"""One hub SNMP poller against N simulated district routers.

The routers are one Debian snmpd on a loopback port with N communities (one
per "router"); every target is polled with its own community, so the poller
keeps N separate security configurations in its single pysnmp engine, as the
hub would. Each cycle polls every target once, concurrently (the hub's
poll_cycle). The hub polls every 60 s, so CPU is reported as the share of one
core that the cycle's CPU time represents over a 60 s period.

Usage: .venv/bin/python scripts/bench_snmp.py --targets 1000 [--cycles 3]
Needs /usr/sbin/snmpd (scripts/apt-packages.txt). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.linkhealth.snmp_poller import poll_cycle
from site_agent.netmon.snmp import CounterTracker, SnmpPoller, SnmpTarget

PERIOD_S = 60.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_snmpd(workdir: Path, port: int, communities: list[str]) -> subprocess.Popen[bytes]:
    conf = workdir / "snmpd.conf"
    conf.write_text("".join(f"rocommunity {c} 127.0.0.1\n" for c in communities))
    (workdir / "persist").mkdir(exist_ok=True)
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(workdir / "persist"), "MIBS": "", "MIBDIRS": "/nonexistent"}
    proc = subprocess.Popen(
        ["/usr/sbin/snmpd", "-f", "-Lf", str(workdir / "snmpd.log"), "-C", "-c", str(conf), "-I", "-smux",
         f"udp:127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = subprocess.run(
            ["snmpget", "-v2c", "-c", communities[0], "-t", "0.3", "-r", "0", f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0"],
            capture_output=True, env={**os.environ, "MIBS": ""},
        )
        if r.returncode == 0:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("snmpd did not start")


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def bench(n: int, cycles: int, port: int, concurrency: int) -> dict[str, float | int]:
    lo = int(Path("/sys/class/net/lo/ifindex").read_text())
    targets = {
        f"R{i:04d}": SnmpTarget(host="127.0.0.1", port=port, community=f"c{i:04d}", if_index=lo,
                                timeout_s=5.0, retries=1)
        for i in range(n)
    }
    poller = SnmpPoller(max_concurrency=concurrency)
    trackers: dict[str, CounterTracker] = {}
    times, cpus, answered = [], [], []
    try:
        cpu0, t0 = cpu_seconds(), time.monotonic()
        await poller.prepare(targets.values())
        prep_s, prep_cpu = time.monotonic() - t0, cpu_seconds() - cpu0
        print(f"configuring {n} targets in the engine (once, at start): {prep_s:.2f} s wall, {prep_cpu:.2f} s CPU",
              flush=True)
        for c in range(cycles):
            cpu0 = cpu_seconds()
            result = await poll_cycle(poller, targets, trackers)
            cpu = cpu_seconds() - cpu0
            times.append(result.seconds)
            cpus.append(cpu)
            answered.append(result.answered)
            rated = sum(1 for s in result.samples.values() if s.in_bps is not None)
            print(f"cycle {c + 1}: {result.seconds:.2f} s wall, {cpu:.2f} s CPU, "
                  f"{result.answered}/{n} answered, {rated} with a rate", flush=True)
    finally:
        poller.close()
    # Worst cycle, not the mean: the first one also primes every counter tracker.
    cycle_s = max(times)
    cpu_pct = max(cpus) / PERIOD_S * 100.0
    print(f"worst cycle: {cycle_s:.2f} s wall, {max(cpus):.2f} s CPU "
          f"→ {cpu_pct:.2f} % of one core at one cycle per {PERIOD_S:.0f} s "
          f"(mean {statistics.mean(times):.2f} s, {statistics.mean(cpus):.2f} s CPU)")
    return {"targets": n, "cycle_s": round(cycle_s, 3), "cpu_pct_of_core": round(cpu_pct, 2),
            "answered": min(answered)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=200, help="requests in flight at once")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_udp_port()
        proc = start_snmpd(Path(tmp), port, [f"c{i:04d}" for i in range(args.targets)])
        try:
            result = asyncio.run(bench(args.targets, args.cycles, port, args.concurrency))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(result))
    return 0 if result["answered"] == args.targets else 1


if __name__ == "__main__":
    raise SystemExit(main())
