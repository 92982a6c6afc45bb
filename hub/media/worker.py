"""The media worker process: ``python -m hub.media.worker --width 1280 --height 720 --fps 25``.

Separate from the web/control process so that decoding, composing and
encoding can neither stall the control room nor crash it. The channel is
JSON lines: commands on stdin, replies and events on stdout.

    → {"id": 3, "op": "offer", "site": "UDN05", "sdp": "v=0..."}
    ← {"id": 3, "ok": true, "result": {"sdp": "...", "type": "answer"}}
    ← {"event": "levels", "levels": {"UDN05": -23.5}, "loudest": "UDN05"}

Ops: ``scene`` (the render state from :meth:`hub.conferences.conference.Conference.render_state`),
``offer``, ``leave``, ``keyframe``, ``stats``, ``stop``. End of stdin stops the
worker, so it never outlives the control process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any, BinaryIO

from hub.media.mcu import MCU, MediaError

log = logging.getLogger("hub.media.worker")


class Channel:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def send(self, msg: dict[str, Any]) -> None:
        self.out.write(json.dumps(msg, ensure_ascii=False).encode("utf-8") + b"\n")
        self.out.flush()


async def handle(mcu: MCU, msg: dict[str, Any]) -> dict[str, Any]:
    op = msg.get("op")
    if op == "scene":
        mcu.set_scene(msg.get("state") or {})
        return {}
    if op == "offer":
        return await mcu.offer(str(msg.get("site", "")), msg.get("sdp", ""), str(msg.get("type", "offer")))
    if op == "leave":
        await mcu.leave(str(msg.get("site", "")))
        return {}
    if op == "keyframe":
        mcu.request_keyframe()
        return {}
    if op == "stats":
        return mcu.stats()
    if op == "ping":
        return {"pid": os.getpid()}
    raise MediaError(f"unknown op {op!r}")


async def serve(args: argparse.Namespace, channel: Channel) -> None:
    mcu = MCU(args.width, args.height, args.fps, args.kbps, emit=channel.send)
    await mcu.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    channel.send({"event": "ready", "pid": os.getpid()})
    pending: set[asyncio.Task[None]] = set()

    async def run(msg: dict[str, Any]) -> None:
        ident = msg.get("id")
        try:
            result = await handle(mcu, msg)
            channel.send({"id": ident, "ok": True, "result": result})
        except MediaError as exc:
            channel.send({"id": ident, "ok": False, "error": str(exc)})
        except Exception as exc:
            log.exception("op %s failed", msg.get("op"))
            channel.send({"id": ident, "ok": False, "error": f"{type(exc).__name__}: {exc}"})

    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
                if not isinstance(msg, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                channel.send({"event": "error", "message": f"bad command line: {exc}"})
                continue
            if msg.get("op") == "stop":
                channel.send({"id": msg.get("id"), "ok": True, "result": {}})
                break
            # Offers take a while (ICE gathering): never make the next command wait.
            task = asyncio.create_task(run(msg))
            pending.add(task)
            task.add_done_callback(pending.discard)
    finally:
        await mcu.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.media.worker")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--kbps", type=int, default=2500)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s media-worker %(levelname)s %(name)s: %(message)s")
    # Keep the protocol on a private copy of stdout and send fd 1 to stderr, so
    # a stray print from a library can never corrupt the channel.
    proto = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # The event loop (RTP, SRTP, mixing) and the render thread share the GIL; with
    # the default 5 ms switch interval every numpy step of a composed frame waits
    # behind packet handling and the program falls to half its frame rate.
    sys.setswitchinterval(0.0005)
    asyncio.run(serve(args, Channel(proto)))


if __name__ == "__main__":
    main()
