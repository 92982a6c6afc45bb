"""The control process's handle on a media worker process: typed JSON lines over pipes (hub.media.channel)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from pydantic import ValidationError

from hub.media import channel

log = logging.getLogger(__name__)

EventHandler = Callable[[channel.Event], Awaitable[None]]
R = TypeVar("R", bound=channel.Result)


class MediaWorkerError(Exception):
    """The worker refused an operation, or is not running."""


class MediaWorker:
    def __init__(
        self,
        *,
        width: int = 1280,
        height: int = 720,
        fps: int = 25,
        kbps: int = 2500,
        on_event: EventHandler | None = None,
        on_exit: Callable[[int | None], Awaitable[None]] | None = None,
        log_level: str = "WARNING",
    ) -> None:
        self.args = ["--width", str(width), "--height", str(height), "--fps", str(fps),
                     "--kbps", str(kbps), "--log-level", log_level]
        self.on_event = on_event
        self.on_exit = on_exit
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[channel.Reply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        # Events are handled by their own task, in order: a handler may itself
        # call request(), whose reply only the reader can deliver.
        self._events: asyncio.Queue[channel.Event | None] = asyncio.Queue()
        self._ready: asyncio.Future[int] | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, timeout: float = 20.0) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._stopping = False
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.media.worker", *self.args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            limit=1 << 22,
        )
        self._ready = asyncio.get_running_loop().create_future()
        self._events = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self._dispatcher = asyncio.create_task(self._dispatch())
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except (TimeoutError, MediaWorkerError):
            await self.stop()
            raise MediaWorkerError("the media worker did not start") from None

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        proc = self.proc
        stdout = proc.stdout
        assert stdout is not None
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                try:
                    msg = channel.decode_output(line)
                except ValidationError as exc:
                    log.warning("media worker wrote a line that is not on the channel: %r (%s)",
                                line[:200], exc.errors()[0]["msg"])
                    continue
                if isinstance(msg, channel.Reply):
                    fut = self._waiting.pop(msg.id, None) if msg.id is not None else None
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                elif isinstance(msg, channel.Ready):
                    if self._ready is not None and not self._ready.done():
                        self._ready.set_result(msg.pid)
                elif isinstance(msg, channel.WorkerError):
                    log.warning("media worker: %s", msg.message)
                elif self.on_event is not None:
                    self._events.put_nowait(msg)
        finally:
            self._events.put_nowait(None)
            code = await proc.wait()
            err = MediaWorkerError(f"the media worker exited (code {code})")
            # A requester may have stopped waiting (its write failed first, or it was cancelled):
            # the exception is marked retrieved so asyncio does not log it as lost; anyone still
            # awaiting gets it all the same.
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(err)
                    fut.exception()
            self._waiting.clear()
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(err)
                self._ready.exception()
            if not self._stopping:
                log.error("media worker exited unexpectedly with code %s", code)
                if self.on_exit is not None:
                    await self.on_exit(code)

    async def _dispatch(self) -> None:
        while True:
            msg = await self._events.get()
            if msg is None:
                return
            if self.on_event is None:
                continue
            try:
                await self.on_event(msg)
            except Exception:
                log.exception("media event handler failed on %s", msg.type)

    async def request(self, op: channel.Op[R], timeout: float = 20.0) -> R:
        """Send one op and wait for its typed result; raises :class:`MediaWorkerError`."""
        if not self.running or self.proc is None or self.proc.stdin is None:
            raise MediaWorkerError("the media worker is not running")
        ident = next(self._ids)
        fut: asyncio.Future[channel.Reply] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = fut
        # Validated on the way out too: an op missing from channel.AnyOp fails here, not in the worker.
        self.proc.stdin.write(channel.encode(channel.Request.model_validate({"id": ident, "op": op})))
        try:
            await self.proc.stdin.drain()
            reply = await asyncio.wait_for(fut, timeout)
        except (ConnectionError, BrokenPipeError) as exc:
            raise MediaWorkerError("the media worker is not running") from exc
        except TimeoutError:
            raise MediaWorkerError(f"the media worker did not answer {op.type!r} in {timeout:.0f} s") from None
        finally:
            self._waiting.pop(ident, None)
        if not reply.ok:
            raise MediaWorkerError(reply.error or f"{op.type} failed")
        expected = op.result_type()
        if not isinstance(reply.result, expected):
            raise MediaWorkerError(f"{op.type} answered {type(reply.result).__name__}, not {expected.__name__}")
        return cast(R, reply.result)

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(MediaWorkerError, ConnectionError):
                await self.request(channel.Stop(), timeout=timeout)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc.stdin is not None and not proc.stdin.is_closing():
            # closed now, while the loop runs; left to the garbage collector it
            # would try to write EOF through a closed event loop
            proc.stdin.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._dispatcher is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._dispatcher, timeout)
