"""The control channel: one WebSocket per district agent.

The registry holds who is connected, the live status the board shows, and
the pending commands waiting for their acks. Other features plug in with
:meth:`AgentRegistry.add_message_handler` (new agent→hub messages) and
:meth:`AgentRegistry.add_connect_listener` (online/offline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from aiohttp import WSCloseCode, WSMsgType, web
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel
from sqlmodel import select

import hub
from hub import audit
from hub.control.enrolment import check_site_token
from hub.control.store import Agent
from hub.db import session_scope
from hub.events import EventBus
from hub.metrics import Metrics
from hub.models import Site
from hub.settings import Settings
from site_agent import protocol as p

log = logging.getLogger("hub.control.registry")

MessageHandler = Callable[[str, Any], Awaitable[None]]
R = TypeVar("R", bound=p.Reply)
ConnectListener = Callable[[str, bool], Awaitable[None]]


class AgentOffline(Exception):
    def __init__(self, site: str) -> None:
        super().__init__(f"agent of {site} is not connected")
        self.site = site


class CommandRefused(Exception):
    """The agent answered a command with ``ok=False``, or with a reply that is not the command's."""

    def __init__(self, site: str, detail: str) -> None:
        super().__init__(f"{site}: {detail}")
        self.site = site
        self.detail = detail


class TokenBucket:
    """Allow ``rate`` messages per second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class SiteLive:
    """What the board shows for one site."""

    code: str
    name_th: str
    name_en: str
    kind: str
    online: bool = False
    last_seen: float | None = None  # epoch seconds
    agent_version: str = ""
    enrolled: bool = False
    connected_since: float | None = None
    control_rtt_ms: float | None = None
    status: dict[str, Any] | None = None
    link: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name_th": self.name_th,
            "name_en": self.name_en,
            "kind": self.kind,
            "online": self.online,
            "last_seen": self.last_seen,
            "agent_version": self.agent_version,
            "enrolled": self.enrolled,
            "connected_since": self.connected_since,
            "control_rtt_ms": self.control_rtt_ms,
            "status": self.status,
            "link": self.link,
        }


@dataclass
class AgentConnection:
    site: str
    ws: web.WebSocketResponse
    version: str
    remote: str
    bucket: TokenBucket
    pending: dict[str, asyncio.Future[p.Ack]] = field(default_factory=dict)
    dropped: int = 0
    last_rate_error: float = 0.0
    last_message: float = field(default_factory=time.monotonic)
    # Feature handlers run here, in arrival order, off the receive loop: a handler that sends
    # the agent a command waits for its ack, and the ack arrives through the receive loop.
    inbox: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(maxsize=256))


class AgentRegistry:
    def __init__(
        self, settings: Settings, engine: sa.Engine, events: EventBus, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.events = events
        self.metrics = metrics
        self.live: dict[str, SiteLive] = {}
        self.connections: dict[str, AgentConnection] = {}
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._listeners: list[ConnectListener] = []
        self._dirty: set[str] = set()
        self._min_version = Version(settings.min_agent_version)
        self._closing = False

    # --- plug-in points -----------------------------------------------------
    def add_message_handler(self, message_type: str, handler: MessageHandler) -> None:
        self._handlers.setdefault(message_type, []).append(handler)

    def add_connect_listener(self, listener: ConnectListener) -> None:
        self._listeners.append(listener)

    # --- state ----------------------------------------------------------------
    def load_sites(self) -> None:
        """(Re)read sites and agents from the database; keeps live state of known sites."""
        with session_scope(self.engine) as session:
            sites = session.exec(select(Site).where(Site.active == True)).all()  # noqa: E712
            agents = {a.site_id: a for a in session.exec(select(Agent)).all()}
        fresh: dict[str, SiteLive] = {}
        for site in sites:
            live = self.live.get(site.code) or SiteLive(site.code, site.name_th, site.name_en, site.kind)
            live.name_th, live.name_en, live.kind = site.name_th, site.name_en, site.kind
            agent = agents.get(site.id) if site.id is not None else None
            live.enrolled = agent is not None
            if agent is not None and not live.online:
                live.agent_version = agent.version
                live.last_seen = agent.last_seen_at.timestamp() if agent.last_seen_at else None
            fresh[site.code] = live
        self.live = fresh

    def is_online(self, code: str) -> bool:
        return code in self.connections

    def online_codes(self) -> list[str]:
        return sorted(self.connections)

    def snapshot(self) -> list[dict[str, Any]]:
        return [live.as_dict() for _, live in sorted(self.live.items())]

    def _publish_site(self, code: str) -> None:
        live = self.live.get(code)
        if live is not None:
            self.events.publish("site", live.as_dict())

    # --- sending ----------------------------------------------------------------
    async def _send(self, conn: AgentConnection, message: BaseModel, frame: str | None = None) -> None:
        await conn.ws.send_str(frame if frame is not None else p.encode(message))
        self.metrics.messages_out.labels(getattr(message, "type", "?")).inc()

    async def send_command(self, code: str, command: p.HubCommand[R], timeout: float = 10.0) -> R:
        """Send a typed command and wait for the agent's typed reply.

        Raises :class:`AgentOffline`, ``TimeoutError``, or :class:`CommandRefused`
        (the agent said no, or answered with something else than ``R``).
        """
        conn = self.connections.get(code)
        if conn is None:
            raise AgentOffline(code)
        envelope = p.Command.wrap(command, sent_at=time.time())
        future: asyncio.Future[p.Ack] = asyncio.get_running_loop().create_future()
        conn.pending[envelope.id] = future
        try:
            await self._send(conn, envelope)
            ack = await asyncio.wait_for(future, timeout)
        finally:
            conn.pending.pop(envelope.id, None)
        if not ack.ok:
            raise CommandRefused(code, ack.detail or f"{command.type} refused")
        expected = command.reply_type()
        if not isinstance(ack.result, expected):
            got = type(ack.result).__name__ if ack.result is not None else "nothing"
            raise CommandRefused(code, f"{command.type} answered with {got}, not {expected.__name__}")
        return cast(R, ack.result)

    async def broadcast(self, command: p.HubCommand[Any], codes: list[str] | None = None) -> int:
        """Send one command to many agents without waiting for acks; returns how many got it.

        The frame is encoded to bytes once and written to every socket as-is: at
        1,000 agents, per-agent JSON and UTF-8 work would dominate the fan-out.
        """
        frame = p.encode(p.Command.wrap(command, sent_at=time.time())).encode("utf-8")
        targets = [self.connections[c] for c in (codes or list(self.connections)) if c in self.connections]
        sent = 0
        for conn in targets:
            try:
                await conn.ws.send_frame(frame, WSMsgType.TEXT)
                sent += 1
            except (ConnectionError, RuntimeError) as exc:
                log.info("broadcast to %s failed: %s", conn.site, exc)
        self.metrics.messages_out.labels("command").inc(sent)
        return sent

    # --- the WebSocket ------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        s = self.settings
        # The hard cap is above the protocol limit so that a merely large frame
        # gets an error reply; only an absurd one makes aiohttp drop the socket.
        # No permessage-deflate: control frames are small, and compression would be done
        # once per agent for every broadcast, undoing "encode once".
        ws = web.WebSocketResponse(max_msg_size=s.max_frame_bytes * 4, heartbeat=None, compress=False)
        await ws.prepare(request)
        remote = request.remote or ""
        if self._closing:
            await ws.close(code=p.CLOSE_HUB_SHUTDOWN, message=b"hub shutting down")
            return ws
        conn = await self._handshake(ws, remote)
        if conn is None:
            return ws
        handlers = asyncio.create_task(self._run_handlers(conn), name=f"agent-handlers-{conn.site}")
        try:
            await self._serve(conn)
        finally:
            handlers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handlers
            await self._disconnected(conn)
        return ws

    async def _run_handlers(self, conn: AgentConnection) -> None:
        while True:
            message = await conn.inbox.get()
            for handler in self._handlers.get(message.type, []):
                try:
                    await handler(conn.site, message)
                except ConnectionResetError:
                    return  # the agent left while we answered
                except Exception:  # a bug in one handler must not drop the district
                    log.exception("handling %s from %s failed", message.type, conn.site)
                    await self._reply_error(
                        conn.ws, p.Error(code="internal", message="the hub could not handle this message")
                    )

    async def _reply_error(self, ws: web.WebSocketResponse, error: p.Error) -> None:
        self.metrics.errors.labels(error.code).inc()
        if not ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await ws.send_str(p.encode(error))

    async def _handshake(self, ws: web.WebSocketResponse, remote: str) -> AgentConnection | None:
        s = self.settings
        try:
            first = await ws.receive(timeout=s.hello_timeout_s)
        except TimeoutError:
            await self._reply_error(ws, p.Error(code="hello_timeout", message="no hello", fatal=True))
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return None
        if first.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return None
        try:
            hello = p.decode_from_agent(first.data, max_bytes=s.max_frame_bytes)
        except p.ProtocolError as exc:
            log.info("refused a first frame from %s: %s", remote, exc.code)  # one line, no traceback
            await self._reply_error(ws, p.Error(code=exc.code, message=exc.message, fatal=True))
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return None
        if not isinstance(hello, p.Hello):
            await self._reply_error(
                ws, p.Error(code="hello_required", message="the first message must be hello", fatal=True)
            )
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return None
        self.metrics.messages_in.labels("hello").inc()
        if not self._version_ok(hello.agent_version) or hello.protocol < p.PROTOCOL_VERSION:
            await self._send_update_required(ws, hello)
            return None
        check = await asyncio.to_thread(check_site_token, self.engine, hello.site, hello.token)
        if not check.ok or check.site is None:
            detail: dict[str, Any] = {"claimed_site": hello.site}
            if check.token_of:
                detail["token_of"] = check.token_of
            await audit.arecord(
                self.engine, actor=f"agent:{hello.site}", action="agent.auth_refused",
                target=hello.site, ok=False, ip=remote, detail=detail,
            )
            await self._reply_error(
                ws,
                p.Error(
                    code="auth_failed",
                    message="site token refused: enrol this PC again with a new code from the province",
                    fatal=True,
                ),
            )
            await ws.close(code=p.CLOSE_AUTH_FAILED, message=b"auth failed")
            return None
        old = self.connections.get(hello.site)
        if old is not None:
            # A second PC (or a reconnect racing a half-open socket): the newest wins.
            await old.ws.close(code=p.CLOSE_REPLACED, message=b"replaced by a newer connection")
        conn = AgentConnection(
            site=hello.site, ws=ws, version=hello.agent_version, remote=remote,
            bucket=TokenBucket(s.agent_msgs_per_s, s.agent_msgs_burst),
        )
        self.connections[hello.site] = conn
        self.metrics.agents_connected.set(len(self.connections))
        live = self.live.setdefault(
            hello.site, SiteLive(hello.site, check.site.name_th, check.site.name_en, check.site.kind)
        )
        now = time.time()
        live.online, live.enrolled = True, True
        live.last_seen, live.connected_since = now, now
        live.agent_version = hello.agent_version
        self._dirty.add(hello.site)
        await self._send(
            conn,
            p.Welcome(
                site=hello.site, name_th=check.site.name_th, name_en=check.site.name_en,
                heartbeat_s=s.heartbeat_interval_s, report_s=s.link_report_interval_s,
                hub_version=hub.__version__, server_time=now,
            ),
        )
        await self._persist_agent(hello, remote)
        self._publish_site(hello.site)
        await self._notify(hello.site, True)
        log.info("agent %s connected from %s (v%s)", hello.site, remote, hello.agent_version)
        return conn

    def _version_ok(self, version: str) -> bool:
        try:
            return Version(version) >= self._min_version
        except InvalidVersion:
            return False

    async def _send_update_required(self, ws: web.WebSocketResponse, hello: p.Hello) -> None:
        need = self.settings.min_agent_version
        await ws.send_str(
            p.encode(
                p.UpdateRequired(
                    min_version=need,
                    your_version=hello.agent_version,
                    message_th=(
                        f"โปรแกรมประชุมของอำเภอรุ่น {hello.agent_version} เก่าเกินไป "
                        f"ต้องใช้รุ่น {need} ขึ้นไป กรุณาติดต่อศาลากลางจังหวัดเพื่อติดตั้งรุ่นใหม่"
                    ),
                    message_en=(
                        f"This agent (version {hello.agent_version}) is too old: version {need} "
                        "or newer is required. Call the province to install the new version."
                    ),
                    download_url=f"{self.settings.effective_public_url}/api/v1/agent-versions/latest",
                )
            )
        )
        self.metrics.errors.labels("update_required").inc()
        await audit.arecord(
            self.engine, actor=f"agent:{hello.site}", action="agent.update_required",
            target=hello.site, ok=False, detail={"version": hello.agent_version, "min": need},
        )
        await ws.close(code=p.CLOSE_UPDATE_REQUIRED, message=b"update required")

    async def _persist_agent(self, hello: p.Hello, remote: str) -> None:
        def write() -> None:
            with session_scope(self.engine) as session:
                row = session.exec(
                    select(Agent).join(Site, Site.id == Agent.site_id).where(Site.code == hello.site)  # type: ignore[arg-type]
                ).first()
                if row is None:
                    return
                row.version = hello.agent_version
                row.hostname = hello.hostname or row.hostname
                row.os = hello.os or row.os
                row.last_ip = remote
                session.add(row)

        await asyncio.to_thread(write)

    async def _serve(self, conn: AgentConnection) -> None:
        s = self.settings
        async for msg in conn.ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                if msg.type == WSMsgType.ERROR:
                    log.info("agent %s socket error: %s", conn.site, conn.ws.exception())
                break
            conn.last_message = time.monotonic()
            if not conn.bucket.allow():
                conn.dropped += 1
                if conn.dropped >= s.agent_flood_close_after:
                    await self._reply_error(
                        conn.ws, p.Error(code="flood", message="too many messages; closing", fatal=True)
                    )
                    await audit.arecord(
                        self.engine, actor=f"agent:{conn.site}", action="agent.flood_closed",
                        target=conn.site, ok=False, detail={"dropped": conn.dropped},
                    )
                    await conn.ws.close(code=p.CLOSE_FLOOD, message=b"flood")
                    break
                if conn.last_message - conn.last_rate_error > 1.0:
                    conn.last_rate_error = conn.last_message
                    await self._reply_error(
                        conn.ws,
                        p.Error(code="rate_limited", message=f"over {s.agent_msgs_per_s:g} messages/s; dropping"),
                    )
                else:
                    self.metrics.errors.labels("rate_limited").inc()
                continue
            data = msg.data
            size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
            if size > s.max_frame_bytes:
                await self._reply_error(
                    conn.ws,
                    p.Error(code="too_large", message=f"{size} bytes is over the {s.max_frame_bytes}-byte limit"),
                )
                continue
            try:
                message = p.decode_from_agent(data, max_bytes=s.max_frame_bytes)
            except p.ProtocolError as exc:
                waiting = conn.pending.get(exc.ref or "") if exc.kind == "ack" else None
                if waiting is not None and not waiting.done():
                    # An answer we cannot read fails its command now, not at its timeout.
                    waiting.set_exception(CommandRefused(conn.site, f"invalid reply: {exc.message}"))
                await self._reply_error(conn.ws, exc.to_message())
                continue
            self.metrics.messages_in.labels(message.type).inc()
            try:
                await self._dispatch(conn, message)
            except ConnectionResetError:
                break  # the agent left while we answered
            except Exception:  # a bug in one handler must not drop the district
                log.exception("handling %s from %s failed", message.type, conn.site)
                await self._reply_error(
                    conn.ws, p.Error(code="internal", message="the hub could not handle this message")
                )

    async def _dispatch(self, conn: AgentConnection, message: Any) -> None:
        live = self.live[conn.site]
        live.last_seen = time.time()
        self._dirty.add(conn.site)
        if isinstance(message, p.Heartbeat):
            await self._send(conn, p.HeartbeatAck(seq=message.seq, echo_sent_at=message.sent_at))
        elif isinstance(message, p.Ack):
            future = conn.pending.get(message.id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, p.Status):
            live.status = message.model_dump(exclude={"type"})
            self._publish_site(conn.site)
        elif isinstance(message, p.LinkReport):
            if message.source == "control":
                live.control_rtt_ms = message.rtt_ms_median
            else:
                live.link = message.model_dump(exclude={"type"})
            self._publish_site(conn.site)
        elif isinstance(message, p.Hello):
            await self._reply_error(conn.ws, p.Error(code="already_hello", message="hello was already received"))
        elif isinstance(message, p.Error):
            log.info("agent %s reports error %s: %s", conn.site, message.code, message.message)
        if message.type in self._handlers:
            try:
                conn.inbox.put_nowait(message)
            except asyncio.QueueFull:  # handlers far behind: say so rather than stall the socket
                await self._reply_error(conn.ws, p.Error(code="busy", message="the hub is behind; message dropped"))

    async def _disconnected(self, conn: AgentConnection) -> None:
        for future in conn.pending.values():
            if not future.done():
                future.set_exception(AgentOffline(conn.site))
        if self.connections.get(conn.site) is not conn:
            return  # replaced by a newer connection: the site stays online
        del self.connections[conn.site]
        self.metrics.agents_connected.set(len(self.connections))
        live = self.live.get(conn.site)
        if live is not None:
            live.online = False
            live.connected_since = None
        self._dirty.add(conn.site)
        self._publish_site(conn.site)
        await self._notify(conn.site, False)
        log.info("agent %s disconnected", conn.site)

    async def _notify(self, code: str, connected: bool) -> None:
        for listener in self._listeners:
            try:
                await listener(code, connected)
            except Exception:
                log.exception("connect listener failed for %s", code)

    # --- background work -------------------------------------------------------------
    async def watchdog(self) -> None:
        """Close sockets that went silent: a dead link may never deliver a FIN."""
        while True:
            limit = self.settings.offline_after_s
            await asyncio.sleep(min(1.0, limit / 3))
            now = time.monotonic()
            for conn in list(self.connections.values()):
                if now - conn.last_message > limit:
                    log.info("agent %s silent for %.0f s: closing", conn.site, now - conn.last_message)
                    await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"silent")

    async def flush_last_seen(self) -> None:
        while True:
            await asyncio.sleep(self.settings.last_seen_flush_s)
            await self.flush_once()

    async def flush_once(self) -> None:
        """Write last-seen times in one transaction (heartbeats would otherwise be writes)."""
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        stamps = {
            code: datetime.fromtimestamp(self.live[code].last_seen or 0, UTC)
            for code in dirty
            if code in self.live and self.live[code].last_seen
        }

        def write() -> None:
            with session_scope(self.engine) as session:
                rows = session.exec(
                    select(Agent, Site).join(Site, Site.id == Agent.site_id).where(Site.code.in_(list(stamps)))  # type: ignore[arg-type, attr-defined]
                ).all()
                for agent, site in rows:
                    agent.last_seen_at = stamps[site.code]
                    session.add(agent)

        await asyncio.to_thread(write)

    async def close_all(self) -> None:
        """Tell every agent the hub is going away, then close: they reconnect with backoff."""
        self._closing = True
        goodbye = p.Error(code="hub_shutdown", message="the hub is restarting; reconnect shortly")
        for conn in list(self.connections.values()):
            with contextlib.suppress(Exception):
                await conn.ws.send_str(p.encode(goodbye))
                await conn.ws.close(code=p.CLOSE_HUB_SHUTDOWN, message=b"hub shutting down")
        await self.flush_once()


# The control channel of this hub (set by hub.control.setup).
REGISTRY = web.AppKey("registry", AgentRegistry)
