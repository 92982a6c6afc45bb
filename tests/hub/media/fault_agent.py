"""A district agent for the fault tests, run as its own process (in a network namespace).

``python -m tests.hub.media.fault_agent CONFIG_DIR`` runs the real AgentClient with
the real media endpoint (synthetic camera and tone) and prints, every 0.25 s, one
JSON line: the wall-clock times of the program frames it decoded since the last
line, its peer connection's state and how often it (re)connected to the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import av

from site_agent.client import AgentClient
from site_agent.config import load_config
from site_agent.media.endpoint import install

REPORT_EVERY_S = 0.25


async def main(config_dir: Path, colour: tuple[int, int, int]) -> None:
    client = AgentClient(load_config(config_dir))
    frames: list[float] = []

    def on_video(frame: av.VideoFrame) -> None:
        frames.append(time.time())

    endpoint = install(client, colour=colour, on_video=on_video)
    task = asyncio.create_task(client.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REPORT_EVERY_S)
            batch, frames[:] = list(frames), []
            line = {"t": time.time(), "frames": batch, "pc": endpoint.connection_state,
                    "connects": client.connects, "dead_drops": client.dead_drops,
                    "audio_frames": endpoint.audio_frames}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
    finally:
        client.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        await endpoint.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("config_dir", type=Path)
    parser.add_argument("--colour", default="30,200,30")
    args = parser.parse_args()
    rgb = tuple(int(x) for x in args.colour.split(","))
    assert len(rgb) == 3
    asyncio.run(main(args.config_dir, (rgb[0], rgb[1], rgb[2])))
