"""The media worker process: ``python -m hub.media.worker --width 1280 --height 720 --fps 25``.

Separate from the web/control process so that decoding, composing and
encoding can neither stall the control room nor crash it. The channel is
JSON lines of the typed models in :mod:`hub.media.channel`: requests on
stdin, replies and events on stdout, each validated on arrival.

Ops: ``scene`` (the render state from :meth:`hub.conferences.conference.Conference.render_state`),
``offer``, ``leave``, ``keyframe``, ``stats``, ``ping``, ``stop``. End of stdin stops the
worker, so it never outlives the control process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any, BinaryIO

import uvloop
from pydantic import BaseModel, ValidationError

from hub.media import card, channel, recorder
from hub.media.mcu import MCU, MediaError

log = logging.getLogger("hub.media.worker")


class Channel:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def send(self, line: BaseModel) -> None:
        self.out.write(channel.encode(line))
        self.out.flush()


async def handle(mcu: MCU, op: channel.AnyOp) -> channel.Result:
    if isinstance(op, channel.Scene):
        mcu.set_scene(op.model_dump(exclude={"type"}))
        return channel.Done()
    if isinstance(op, channel.Offer):
        answer = await mcu.offer(op.site, op.sdp, op.sdp_type)
        return channel.SdpAnswer(sdp=answer["sdp"])
    if isinstance(op, channel.Leave):
        await mcu.leave(op.site)
        return channel.Done()
    if isinstance(op, channel.Keyframe):
        mcu.request_keyframe()
        return channel.Done()
    if isinstance(op, channel.GetStats):
        return channel.Stats.model_validate(mcu.stats(op.reset))
    if isinstance(op, channel.Ping):
        return channel.Pid(pid=os.getpid())
    if isinstance(op, channel.ContentShow):  # the content tile (issue 14, hub.media.content_source)
        mcu.content.apply(op)
        return channel.Done()
    if isinstance(op, channel.PollCard):  # the poll results card (issue 16, hub.media.card)
        card.of(mcu.compositor).apply(op)
        return channel.Done()
    if isinstance(op, channel.StartRecording | channel.StopRecording | channel.RecordingStatus):
        return await recorder.handle(mcu, op)
    raise MediaError(f"unknown op {op.type!r}")


def _id_of(line: bytes) -> int | None:
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    ident = raw.get("id") if isinstance(raw, dict) else None
    return ident if isinstance(ident, int) else None


async def serve(args: argparse.Namespace, out: Channel) -> None:
    mcu = MCU(args.width, args.height, args.fps, args.kbps, emit=out.send)
    await mcu.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out.send(channel.Ready(pid=os.getpid()))
    pending: set[asyncio.Task[None]] = set()

    async def run(request: channel.Request) -> None:
        try:
            result = await handle(mcu, request.op)
            out.send(channel.Reply(id=request.id, ok=True, result=result))
        except MediaError as exc:
            out.send(channel.Reply(id=request.id, ok=False, error=str(exc)))
        except Exception as exc:
            log.exception("op %s failed", request.op.type)
            out.send(channel.Reply(id=request.id, ok=False, error=f"{type(exc).__name__}: {exc}"))

    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                request = channel.decode_request(line)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                message = f"bad request line: {where}: {first['msg']}"
                ident = _id_of(line)
                # A request we can name fails now; its sender would otherwise wait out its timeout.
                out.send(channel.Reply(id=ident, ok=False, error=message) if ident is not None
                         else channel.WorkerError(message=message))
                continue
            if isinstance(request.op, channel.Stop):
                out.send(channel.Reply(id=request.id, ok=True, result=channel.Done()))
                break
            # Offers take a while (ICE gathering): never make the next command wait.
            task = asyncio.create_task(run(request))
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
    run(serve(args, Channel(proto)))


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run the worker's event loop: uvloop, not asyncio's selector loop.

    asyncio's selector loop reads ONE datagram per socket per loop iteration
    (``_SelectorDatagramTransport._read_ready``); libuv reads up to 32 per wake-up. With 20
    districts the worker's loop iterated slower than a district's packets arrived, so its
    sockets' receive queues filled: every district's media waited 4–8 s in the kernel (the
    bench's 4.7 s glass-to-glass), thousands of datagrams a minute were dropped, and the ICE
    consent answers came too late, which closed 11–16 of 20 districts after 45–90 s
    (BENCHMARKS.md, issue 17; ``tests/hub/media/test_worker_loop.py``).
    """
    uvloop.run(main)


if __name__ == "__main__":
    main()
