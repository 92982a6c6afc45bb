"""The agent's control client: one WebSocket to the hub, kept up for as long as it runs.

It says hello with the site token, heartbeats, answers commands and
reconnects with exponential backoff and jitter (capped at ``reconnect_max_s``,
3 s: twenty districts every few seconds are nothing for the hub, and a
district must be back within seconds of its link returning). A socket whose
heartbeats go unanswered for ``control_dead_after_s`` is dropped, as the hub
drops a silent agent: a cut link would otherwise hang on TCP retransmissions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import random
import socket
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel

import site_agent
from site_agent import protocol as p
from site_agent.config import AgentConfig, check_hub_url
from site_agent.settings import load_agent_settings

log = logging.getLogger("site_agent.client")

R = TypeVar("R", bound=p.Reply)
C = TypeVar("C", bound=p.HubCommand[Any])
CommandHandler = Callable[[Any], Awaitable[p.Reply]]
CommandObserver = Callable[[p.HubCommand[Any]], None]
StartTask = Callable[["AgentClient"], Coroutine[Any, Any, None]]
Listener = Callable[[str, dict[str, Any]], None]


class CommandFailed(Exception):
    """Raise from a command handler to answer ok=False with this message."""


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> float:
    """'Equal jitter': half the exponential delay fixed, half random."""
    ceiling = min(cap, base * (2**attempt))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class AgentClient:
    def __init__(
        self,
        config: AgentConfig,
        *,
        version: str = site_agent.__version__,
        backoff_base: float = 0.5,
        backoff_cap: float | None = None,
        dead_after_s: float | None = None,
        connect_timeout_s: float | None = None,
    ) -> None:
        settings = load_agent_settings()
        self.config = config
        self.version = version
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap if backoff_cap is not None else settings.reconnect_max_s
        self.dead_after_s = dead_after_s if dead_after_s is not None else settings.control_dead_after_s
        self.connect_timeout_s = connect_timeout_s if connect_timeout_s is not None \
            else settings.control_connect_timeout_s
        self.last_ack_at = 0.0  # monotonic time of the last heartbeat answer (or welcome)
        self.dead_drops = 0  # sockets dropped for unanswered heartbeats
        # One handler per command type; each answers with that command's reply model.
        self._handlers: dict[str, CommandHandler] = {}
        self._observers: list[CommandObserver] = []
        self.add_command_handler(p.Ping, self._ping)
        self.add_command_handler(p.GetStatus, self._status)
        self._start_tasks: list[StartTask] = []
        self._listeners: list[Listener] = []
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = asyncio.Event()
        self._connected = asyncio.Event()
        self.welcome: p.Welcome | None = None
        self.state = "connecting"  # connecting | connected | update_required | auth_failed | stopped
        self.last_error: p.Error | None = None
        self.update_required: p.UpdateRequired | None = None
        self.connects = 0
        self.max_frame_bytes = p.DEFAULT_MAX_FRAME_BYTES
        self._rtts: deque[float] = deque(maxlen=20)
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._background: set[asyncio.Future[Any]] = set()

    # --- plug-in points ----------------------------------------------------------
    def add_command_handler(self, kind: type[p.HubCommand[R]], handler: Callable[[C], Awaitable[R]]) -> None:
        """Answer every ``kind`` command with ``handler`` (replacing an earlier one)."""
        name = kind.model_fields["type"].default
        self._handlers[name] = handler

    @property
    def command_types(self) -> frozenset[str]:
        """The command types this agent answers; any other gets ``Ack(ok=False)`` naming it."""
        return frozenset(self._handlers)

    def add_command_observer(self, observer: CommandObserver) -> None:
        """Called (synchronously) with every valid command before its handler runs."""
        self._observers.append(observer)

    def add_start_task(self, factory: StartTask) -> None:
        """A loop to run while connected; cancelled when the connection drops."""
        self._start_tasks.append(factory)

    def add_listener(self, listener: Listener) -> None:
        """Called (synchronously) on 'connected', 'disconnected', 'error', 'update_required'."""
        self._listeners.append(listener)

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                listener(event, data)
            except Exception:
                log.exception("listener failed on %s", event)

    # --- state --------------------------------------------------------------------
    @property
    def site(self) -> str:
        return self.config.site

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed and self.welcome is not None

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, message: BaseModel) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise ConnectionError("not connected to the hub")
        await ws.send_str(p.encode(message))

    def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None and not self._ws.closed:
            self._keep(asyncio.ensure_future(self._ws.close()))

    def _keep(self, future: asyncio.Future[Any]) -> None:
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    # --- the loop ---------------------------------------------------------------------
    async def run(self) -> None:
        # Refused before any connection: a hand-edited agent.json must not send the token in clear.
        check_hub_url(self.config.hub_url)
        attempt = 0
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout_s,
                                        sock_connect=self.connect_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not self._stopping.is_set():
                started = time.monotonic()
                timed_out = False
                try:
                    await self._session(http)
                except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
                    timed_out = True
                    log.info("hub %s unreachable: %s", self.config.hub_url, exc or "connect timed out")
                except (aiohttp.ClientError, OSError) as exc:
                    log.info("hub %s unreachable: %s", self.config.hub_url, exc)
                finally:
                    self._ws = None
                    self.welcome = None
                    if self._connected.is_set():
                        self._connected.clear()
                        self._emit("disconnected", {})
                if self._stopping.is_set():
                    break
                if time.monotonic() - started > 30:
                    attempt = 0  # it was a real session, not a flapping connect
                if self.state == "update_required":
                    delay = 3600.0  # nothing will change until someone updates this PC
                elif self.state == "auth_failed":
                    delay = max(300.0, self.backoff_cap)
                elif timed_out:
                    # The attempt itself waited connect_timeout_s (a cut link): try again at
                    # once, so the district is back as soon as the link is.
                    delay = random.uniform(0, self.backoff_base)
                else:
                    delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap)
                    attempt += 1
                log.info("reconnecting in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
        self.state = "stopped"

    async def _session(self, http: aiohttp.ClientSession) -> None:
        self.state = "connecting"
        async with http.ws_connect(self.config.ws_url, heartbeat=None, max_msg_size=4 * self.max_frame_bytes,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            self._ws = ws
            await ws.send_str(
                p.encode(
                    p.Hello(
                        site=self.config.site, token=self.config.token, agent_version=self.version,
                        hostname=socket.gethostname()[:255], os=f"{platform.system()} {platform.release()}"[:64],
                    )
                )
            )
            tasks: list[asyncio.Task[None]] = []
            try:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    try:
                        message = p.decode_from_hub(msg.data, max_bytes=self.max_frame_bytes)
                    except p.ProtocolError as exc:
                        log.warning("bad message from hub: %s", exc.message)
                        if exc.kind == "command" and exc.ref:
                            # A command this agent cannot read (newer hub, or a bug): say so to
                            # the waiting hub instead of letting it time out.
                            await ws.send_str(p.encode(p.Ack(id=exc.ref[:64], ok=False, detail=exc.message[:2000])))
                        else:
                            await ws.send_str(p.encode(exc.to_message()))
                        continue
                    if isinstance(message, p.Welcome):
                        self.welcome = message
                        self.last_ack_at = time.monotonic()
                        self.state = "connected"
                        self.connects += 1
                        tasks = [asyncio.create_task(self._heartbeats(message, ws))]
                        tasks += [asyncio.create_task(factory(self)) for factory in self._start_tasks]
                        self._connected.set()
                        self._emit("connected", {"site": message.site, "name_th": message.name_th})
                        log.info("connected to hub as %s (%s)", message.site, message.name_th)
                    elif isinstance(message, p.HeartbeatAck):
                        self.last_ack_at = time.monotonic()
                        self._rtts.append((time.time() - message.echo_sent_at) * 1000)
                    elif isinstance(message, p.Command):
                        self._keep(asyncio.create_task(self._run_command(message)))
                    elif isinstance(message, p.UpdateRequired):
                        self.state = "update_required"
                        self.update_required = message
                        log.error("%s / %s", message.message_th, message.message_en)
                        self._emit("update_required", message.model_dump())
                    elif isinstance(message, p.Error):
                        self.last_error = message
                        if message.code == "auth_failed":
                            self.state = "auth_failed"
                            log.error("the hub refused this PC's token: enrol again (%s)", message.message)
                        else:
                            log.info("hub says %s: %s", message.code, message.message)
                        self._emit("error", message.model_dump())
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _heartbeats(self, welcome: p.Welcome, ws: aiohttp.ClientWebSocketResponse) -> None:
        seq = 0
        last_report = time.monotonic()
        step = min(1.0, welcome.heartbeat_s)
        while True:
            await self.send(p.Heartbeat(seq=seq, sent_at=time.time()))
            seq += 1
            next_beat = time.monotonic() + welcome.heartbeat_s
            while time.monotonic() < next_beat:
                await asyncio.sleep(min(step, max(0.0, next_beat - time.monotonic())))
                silent = time.monotonic() - self.last_ack_at
                if silent > self.dead_after_s:
                    self.dead_drops += 1
                    log.warning("no answer from the hub for %.0f s: dropping the connection", silent)
                    # Shut the socket down rather than close the WebSocket: a close handshake
                    # over a cut link would wait out its own timeout first.
                    sock = ws.get_extra_info("socket")
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                    return
            if time.monotonic() - last_report >= welcome.report_s and self._rtts:
                last_report = time.monotonic()
                rtts = list(self._rtts)
                await self.send(
                    p.LinkReport(
                        source="control", step_s=welcome.report_s, probes=len(rtts),
                        rtt_ms_median=statistics.median(rtts), rtt_ms_min=min(rtts), rtt_ms_max=max(rtts),
                        measured_at=time.time(),
                    )
                )

    async def _run_command(self, envelope: p.Command) -> None:
        command = envelope.command
        for observer in list(self._observers):
            try:
                observer(command)
            except Exception:
                log.exception("command observer failed on %s", command.type)
        handler = self._handlers.get(command.type)
        if handler is None:
            ack = p.Ack(id=envelope.id, ok=False, detail=f"no handler for {command.type!r} on this agent")
        else:
            try:
                reply = await handler(command)
                expected = command.reply_type()
                if not isinstance(reply, expected):
                    raise TypeError(f"{command.type} handler answered {type(reply).__name__}, not {expected.__name__}")
                ack = p.Ack(id=envelope.id, ok=True, result=reply)
            except CommandFailed as exc:
                ack = p.Ack(id=envelope.id, ok=False, detail=str(exc)[:2000])
            except Exception as exc:
                log.exception("command %s failed", command.type)
                ack = p.Ack(id=envelope.id, ok=False, detail=f"{type(exc).__name__}: {exc}"[:2000])
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            await self.send(ack)

    def control_rtt_ms(self) -> float | None:
        """Median control-channel round trip over the last heartbeats (the tray's link line)."""
        return statistics.median(self._rtts) if self._rtts else None

    async def _ping(self, command: p.Ping) -> p.Pong:
        return p.Pong(received_at=time.time(), echo=command.echo)

    async def _status(self, command: p.GetStatus) -> p.AgentState:
        return p.AgentState(state=self.state, version=self.version, connects=self.connects)
