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

    .venv/bin/python scripts/bench_agent.py --media [--seconds 20]

The agent's media in a briefing (issue 17): the agent's real media endpoint
(site_agent.media.endpoint, its own process) holds the floor and sends 720p25
(the synthetic camera: a Thai slate, moving bar, clock, through the agent's
libx264 live preset) plus its microphone, and decodes the 720p25 program the
real hub media worker composes for it. Its process CPU is sampled over
--seconds. Ends with one JSON line: {"agent_media_cores": .., "program_fps": ..,
"rss_mb": ..}. Target ≤ 0.5 cores of this machine.
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


async def media_endpoint() -> None:
    """The agent's side, in its own process: offer on stdout, answer on stdin, counters at the end."""
    from site_agent.media.endpoint import MediaEndpoint, Profile

    endpoint = MediaEndpoint("อำเภอเมืองอุดรธานี", tone_hz=523.0)
    offer = await endpoint.offer(Profile(1280, 720, 25, 2500))
    print(json.dumps(offer), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    answer = json.loads(await reader.readline())
    await endpoint.answer(answer["sdp"])
    while True:
        line = await reader.readline()
        if not line:
            break
        print(json.dumps({"video_frames": endpoint.video_frames, "audio_frames": endpoint.audio_frames}),
              flush=True)
    await endpoint.close()


async def media_bench(seconds: float) -> None:
    from hub.conferences.conference import Conference
    from hub.conferences.floor import Actor
    from hub.media import channel
    from hub.media.client import MediaWorker

    worker = MediaWorker(width=1280, height=720, fps=25, kbps=2500)
    await worker.start()
    conf = Conference(id=1, title="bench", province="UDN00", participants=["UDN17", "UDN00"], layout="1+N")
    conf.give_floor("UDN17", Actor.of_chair("bench"))
    await worker.request(channel.Scene.model_validate(conf.render_state({"UDN17": "อำเภอเมืองอุดรธานี"})))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--media-endpoint", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdin is not None and proc.stdout is not None
    offer = json.loads(await proc.stdout.readline())
    answer = await worker.request(channel.Offer(site="UDN17", sdp=offer["sdp"]))
    proc.stdin.write((json.dumps({"sdp": answer.sdp}) + "\n").encode())
    await proc.stdin.drain()

    async def counters() -> dict[str, int]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"{}\n")
        await proc.stdin.drain()
        return dict(json.loads(await proc.stdout.readline()))

    deadline = time.monotonic() + 30
    while (await counters())["video_frames"] < 25:
        if time.monotonic() > deadline:
            raise TimeoutError("the agent received no program")
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # past the first keyframes and the bitrate ramp
    ps = psutil.Process(proc.pid)
    first = await counters()
    cpu0, t0 = sum(ps.cpu_times()[:2]), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = sum(ps.cpu_times()[:2]), time.monotonic()
    last = await counters()
    rss = ps.memory_info().rss / 2**20
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 15)
    await worker.stop()
    result = {
        "agent_media_cores": round((cpu1 - cpu0) / (t1 - t0), 3),
        "program_fps": round((last["video_frames"] - first["video_frames"]) / (t1 - t0), 2),
        "rss_mb": round(rss, 1),
    }
    print(f"agent sending 720p25 as floor holder and decoding the 720p25 program for {t1 - t0:.0f} s: "
          f"{result['agent_media_cores']} cores, program {result['program_fps']} fps, RSS {result['rss_mb']} MB; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(json.dumps(result))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=180.0)
    parser.add_argument("--media", action="store_true", help="the agent's media CPU in a briefing (issue 17)")
    parser.add_argument("--seconds", type=float, default=20.0, help="--media: the measured window")
    parser.add_argument("--media-endpoint", dest="media_endpoint", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.media_endpoint:
        await media_endpoint()
        return
    if args.media:
        await media_bench(args.seconds)
        return

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
