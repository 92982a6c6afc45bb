"""The agent's probes time each echo by the kernel, so a busy district PC does not read as jitter.

An echo runs in its own process, answering after a fixed 10 ms (a path with
delay and no jitter), and the agent's loop is stalled at random
(blocking calls of 0–30 ms, as a district PC encoding its camera stalls it). The path has no
jitter. Stamped by the kernel the agent says so; read by the loop — the
path a non-Linux agent still takes — the stalls show up as milliseconds of jitter. The second
figure is the control: it shows the stalls really did delay the reads.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from site_agent.netmon import probe
from site_agent.netmon.probe import Prober, StepStats

PATH_DELAY_S = 0.010


# A separate process, so the echo's timing owes nothing to the agent's GIL or loop; real-time
# priority where allowed (root), so a busy machine does not make the path itself jittery.
_ECHO = """
import os, socket, sys, threading
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
except OSError:
    pass
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(2048)
    threading.Timer(float(sys.argv[1]), s.sendto, (data, addr)).start()
"""


@pytest.fixture
def echo_port() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", _ECHO, str(PATH_DELAY_S)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait(10)


async def _step_with_stalls(port: int) -> tuple[StepStats, bool]:
    rng = random.Random(7)
    stop = asyncio.Event()

    async def stall() -> None:
        while not stop.is_set():
            time.sleep(rng.uniform(0.0, 0.030))  # noqa: ASYNC251 - the stall is the point
            await asyncio.sleep(0.002)

    staller = asyncio.create_task(stall())
    try:
        async with Prober("127.0.0.1", port, seed=5) as prober:
            stats = await prober.step(300, 0.005, 300.0)
            return stats, prober.kernel_stamped
    finally:
        stop.set()
        await staller


async def test_a_stalled_agent_loop_is_not_reported_as_jitter(
    echo_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamped, was_stamped = await _step_with_stalls(echo_port)
    assert was_stamped
    assert stamped.received == 300
    assert stamped.jitter_ms is not None and stamped.jitter_ms < 1.0, stamped.jitter_ms

    async def unavailable(cls: object, host: str, port: int, arrived: object) -> None:
        return None

    monkeypatch.setattr(probe.KernelStampedSocket, "connect", classmethod(unavailable))
    read, was_stamped = await _step_with_stalls(echo_port)
    assert not was_stamped
    assert read.received == 300
    late_ms = statistics.fmean(read.rtts_ms) - statistics.fmean(stamped.rtts_ms)
    print(f"jitter ms: stamped {stamped.jitter_ms:.2f}, read by the loop {read.jitter_ms:.2f}; "
          f"reads late by {late_ms:.1f} ms on average")
    # The control: read by the loop, the echoes were late by the stalls, and it showed as jitter.
    assert late_ms > 3.0, late_ms
    assert read.jitter_ms is not None and read.jitter_ms > stamped.jitter_ms + 0.5, (
        read.jitter_ms, stamped.jitter_ms)
