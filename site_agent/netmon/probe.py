"""Active link probes from a district to the hub's UDP echo, and the agent's link-health loops.

Method (reference/link-health.md):

* N probes per step, Poisson-spaced (exponential gaps, seeded RNG) so they
  do not lock onto periodic traffic;
* a probe is lost if its echo has not come back within ``Tmax`` — a late
  echo counts as lost, not as a very slow one (RFC 7679/7680 practice);
* jitter is the RFC 3550 §6.4.1 estimator over the round-trip transit of
  consecutive probes in sending order: ``D = (Rj - Ri) - (Sj - Si)``,
  ``J += (|D| - J) / 16``; J is carried from step to step like an RTP receiver does;
* each step yields one :class:`~site_agent.protocol.LinkReport`
  (``source="probe"``): median/min/max RTT, jitter, loss % and the Tmax used.

:func:`attach_link_health` wires the probe loop and the router's SNMP poll
into a connected :class:`site_agent.client.AgentClient`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import socket
import statistics
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from site_agent.netmon.snmp import CounterTracker, SnmpPoller, SnmpTarget, target_from_env_refs
from site_agent.netmon.thresholds import (
    DEFAULT_PROBES_PER_STEP,
    DEFAULT_SNMP_INTERVAL_S,
    DEFAULT_STEP_S,
    DEFAULT_TMAX_MS,
    Thresholds,
)
from site_agent.protocol import ConfigureLinkHealth, LinkHealthConfigured, LinkReport

log = logging.getLogger(__name__)

MAGIC = b"SLKP"
_HEADER = struct.Struct("!4sIQ")  # magic, sequence number, send time (ns, agent monotonic)
MAX_PROBE_BYTES = 512


class JitterEstimator:
    """RFC 3550 §6.4.1 interarrival jitter, in milliseconds."""

    def __init__(self) -> None:
        self.jitter_ms = 0.0
        self._last_transit_ms: float | None = None
        self.samples = 0

    def update(self, transit_ms: float) -> float:
        if self._last_transit_ms is not None:
            d = transit_ms - self._last_transit_ms
            self.jitter_ms += (abs(d) - self.jitter_ms) / 16.0
            self.samples += 1
        self._last_transit_ms = transit_ms
        return self.jitter_ms


@dataclass(frozen=True)
class StepStats:
    probes: int
    received: int  # within Tmax
    rtts_ms: tuple[float, ...]  # in sending order, received ones only
    jitter_ms: float | None
    tmax_ms: float
    duration_s: float

    @property
    def loss_pct(self) -> float | None:
        if self.probes == 0:
            return None
        return (self.probes - self.received) * 100.0 / self.probes

    def to_report(self, measured_at: float | None = None) -> LinkReport:
        rtts = self.rtts_ms
        return LinkReport(
            source="probe",
            step_s=max(self.duration_s, 0.001),
            probes=self.probes,
            rtt_ms_median=statistics.median(rtts) if rtts else None,
            rtt_ms_min=min(rtts) if rtts else None,
            rtt_ms_max=max(rtts) if rtts else None,
            jitter_ms=self.jitter_ms if rtts else None,
            loss_pct=self.loss_pct,
            tmax_ms=self.tmax_ms,
            measured_at=time.time() if measured_at is None else measured_at,
        )


def summarise(
    sent_ns: dict[int, int],
    received_ns: dict[int, int],
    tmax_ms: float,
    jitter: JitterEstimator,
    duration_s: float,
) -> StepStats:
    """Pure: one step's send and receive times (ns) → its statistics."""
    tmax_ns = tmax_ms * 1e6
    rtts: list[float] = []
    for seq in sorted(sent_ns):
        rx = received_ns.get(seq)
        if rx is None:
            continue
        rtt_ns = rx - sent_ns[seq]
        if rtt_ns < 0 or rtt_ns > tmax_ns:
            continue
        rtt_ms = rtt_ns / 1e6
        rtts.append(rtt_ms)
        jitter.update(rtt_ms)
    return StepStats(
        probes=len(sent_ns),
        received=len(rtts),
        rtts_ms=tuple(rtts),
        jitter_ms=jitter.jitter_ms if jitter.samples else None,
        tmax_ms=tmax_ms,
        duration_s=duration_s,
    )


class _ProbeSocket(asyncio.DatagramProtocol):
    """Echoes, by sequence number, with the time each one arrived (agent monotonic, ns)."""

    def __init__(self) -> None:
        self.received: dict[int, int] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.arrived(data, addr, time.monotonic_ns())

    def arrived(self, data: bytes, addr: object, at_ns: int) -> None:
        if len(data) < _HEADER.size:
            return
        magic, seq, _sent = _HEADER.unpack_from(data)
        if magic == MAGIC:
            # A duplicate keeps the first arrival, as a media receiver would.
            self.received.setdefault(seq, at_ns)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable while the hub restarts: the probes count as lost.
        log.debug("probe socket: %s", exc)


# Linux's receive timestamps (socket(7) SO_TIMESTAMPNS; Python names neither constant).
# The district PC is busy encoding its camera while it probes: an echo read when the event
# loop gets to it carries the PC's own scheduling delay, which would show as jitter on a
# fibre that has none. The kernel's stamp is taken when the echo reached the socket.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")


class KernelStampedSocket:
    """A UDP socket read with recvmsg, each datagram timed by the kernel (Linux only).

    ``arrived(data, addr, at_ns)`` gets the arrival on this process's monotonic clock.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        arrived: Callable[[bytes, Any, int], None],
    ) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self._loop = loop
        self._sock = sock
        self._arrived = arrived
        loop.add_reader(sock.fileno(), self._readable)

    @classmethod
    async def connect(cls, host: str, port: int, arrived: Callable[[bytes, Any, int], None]) -> KernelStampedSocket | None:
        """None where the loop or the platform cannot do it; the caller falls back to asyncio's."""
        if sys.platform != "linux":
            return None
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, kind, proto, _name, addr = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.connect(addr)
            return cls(loop, sock, arrived)
        except (OSError, NotImplementedError) as exc:  # e.g. a loop without add_reader
            log.debug("kernel receive timestamps unavailable: %s", exc)
            sock.close()
            return None

    def _readable(self) -> None:
        while True:
            try:
                data, ancillary, _flags, addr = self._sock.recvmsg(MAX_PROBE_BYTES, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP port unreachable while the hub restarts
                log.debug("probe socket: %s", exc)
                return
            mono = time.monotonic_ns()
            at = mono
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
                    sec, nsec = _TIMESPEC.unpack_from(payload)
                    age = time.time_ns() - (sec * 1_000_000_000 + nsec)
                    # The stamp is on the wall clock: carried over as its age, so a clock step
                    # between steps changes nothing; an impossible age is ignored.
                    if 0 <= age < 10_000_000_000:
                        at = mono - age
            self._arrived(data, addr, at)

    def send(self, data: bytes) -> None:
        self._sock.send(data)

    def sendto(self, data: bytes, addr: Any) -> None:
        self._sock.sendto(data, addr)

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()


class Prober:
    """Sends probe steps to one echo server over one UDP socket."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        payload_bytes: int = 64,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.payload_bytes = max(_HEADER.size, min(payload_bytes, MAX_PROBE_BYTES))
        self.rng = random.Random(seed)
        self.jitter = JitterEstimator()
        self._seq = 0
        self._sock: _ProbeSocket | None = None
        self._stamped: KernelStampedSocket | None = None

    @property
    def kernel_stamped(self) -> bool:
        """Whether echoes are timed by the kernel (Linux) rather than when the loop reads them."""
        return self._stamped is not None

    async def __aenter__(self) -> Prober:
        proto = _ProbeSocket()
        self._stamped = await KernelStampedSocket.connect(self.host, self.port, proto.arrived)
        if self._stamped is not None:
            self._sock = proto
            return self
        loop = asyncio.get_running_loop()
        _transport, self._sock = await loop.create_datagram_endpoint(
            _ProbeSocket, remote_addr=(self.host, self.port)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stamped is not None:
            self._stamped.close()
        elif self._sock is not None and self._sock.transport is not None:
            self._sock.transport.close()
        self._sock = None
        self._stamped = None

    def _send(self, data: bytes) -> None:
        if self._stamped is not None:
            self._stamped.send(data)
        elif self._sock is not None and self._sock.transport is not None:
            self._sock.transport.sendto(data)

    async def step(self, probes: int, mean_spacing_s: float, tmax_ms: float) -> StepStats:
        """Send ``probes`` Poisson-spaced probes, wait Tmax after the last, summarise."""
        sock = self._sock
        if sock is None:
            raise RuntimeError("Prober used outside 'async with'")
        sent: dict[int, int] = {}
        started = time.monotonic()
        padding = b"\0" * (self.payload_bytes - _HEADER.size)
        next_at = started
        for _ in range(probes):
            next_at += self.rng.expovariate(1.0 / mean_spacing_s) if mean_spacing_s > 0 else 0.0
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            seq = self._seq = (self._seq + 1) % 2**32
            now = time.monotonic_ns()
            sent[seq] = now
            try:
                self._send(_HEADER.pack(MAGIC, seq, now) + padding)
            except OSError as exc:  # network unreachable: the probe is lost, not a crash
                log.debug("probe send failed: %s", exc)
        await asyncio.sleep(tmax_ms / 1000.0)
        received = {s: sock.received.pop(s) for s in list(sent) if s in sock.received}
        # Echoes older than this step can only be late ones: forget them.
        sock.received.clear()
        return summarise(sent, received, tmax_ms, self.jitter, time.monotonic() - started)


# --- the agent's loops ---------------------------------------------------------------


@dataclass
class LinkHealthConfig:
    """What the hub tells the agent (command ``linkhealth.configure``); defaults from netmon.thresholds."""

    echo_host: str = ""
    echo_port: int = 0
    probes_per_step: int = DEFAULT_PROBES_PER_STEP
    step_s: float = DEFAULT_STEP_S
    tmax_ms: float = DEFAULT_TMAX_MS
    payload_bytes: int = 64
    snmp_interval_s: float = DEFAULT_SNMP_INTERVAL_S
    snmp: SnmpTarget | None = None
    # The hub's colour bands: the agent judges its link as the control room does.
    thresholds: Thresholds = field(default_factory=Thresholds)

    @classmethod
    def from_args(cls, args: dict[str, Any], default_host: str) -> LinkHealthConfig:
        snmp_args = args.get("snmp") or None
        target = None
        if isinstance(snmp_args, dict) and snmp_args.get("host"):
            allowed = set(SnmpTarget.__dataclass_fields__)
            target = SnmpTarget(**{k: v for k, v in snmp_args.items() if k in allowed})
        return cls(
            echo_host=str(args.get("echo_host") or default_host),
            echo_port=int(args.get("echo_port", 0)),
            probes_per_step=max(1, int(args.get("probes_per_step", DEFAULT_PROBES_PER_STEP))),
            step_s=max(0.1, float(args.get("step_s", DEFAULT_STEP_S))),
            tmax_ms=max(1.0, float(args.get("tmax_ms", DEFAULT_TMAX_MS))),
            payload_bytes=int(args.get("payload_bytes", 64)),
            snmp_interval_s=max(1.0, float(args.get("snmp_interval_s", DEFAULT_SNMP_INTERVAL_S))),
            snmp=target,
            thresholds=Thresholds.from_json(args.get("thresholds")),
        )


Send = Callable[[Any], Awaitable[None]]


async def probe_loop(config: LinkHealthConfig, send: Send, seed: int | None = None) -> None:
    """Report one LinkReport per step until cancelled."""
    async with Prober(
        config.echo_host, config.echo_port, payload_bytes=config.payload_bytes, seed=seed
    ) as prober:
        while True:
            began = time.monotonic()
            stats = await prober.step(
                config.probes_per_step, config.step_s / config.probes_per_step, config.tmax_ms
            )
            await send(stats.to_report())
            rest = config.step_s - (time.monotonic() - began)
            if rest > 0:
                await asyncio.sleep(rest)


async def snmp_loop(config: LinkHealthConfig, send: Send, poller: SnmpPoller) -> None:
    """Poll the district router every interval; report rates and states until cancelled."""
    target = config.snmp
    if target is None:
        return
    tracker = CounterTracker()
    while True:
        began = time.monotonic()
        sample = tracker.update(await poller.poll(target))
        await send(sample.to_report(target.if_index))
        rest = config.snmp_interval_s - (time.monotonic() - began)
        if rest > 0:
            await asyncio.sleep(rest)


@dataclass
class LinkHealthAgent:
    """Holds the hub-provided configuration and runs both loops while connected."""

    default_host: str
    send: Send
    config: LinkHealthConfig | None = None
    # The agent's own config section ``snmp`` (AgentConfig.extra["snmp"]) wins over the
    # hub's target: a district may keep its router credentials on its own PC only.
    local_snmp: SnmpTarget | None = None
    _configured: asyncio.Event = field(default_factory=asyncio.Event)
    _restart: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_configure(self, command: ConfigureLinkHealth) -> LinkHealthConfigured:
        args = command.model_dump(exclude={"type"}, exclude_none=True)
        self.config = LinkHealthConfig.from_args(args, self.default_host)
        if self.local_snmp is not None:
            self.config.snmp = self.local_snmp
        self._configured.set()
        self._restart.set()
        return LinkHealthConfigured(probing=True, snmp=self.config.snmp is not None)

    async def run(self, _client: Any = None) -> None:
        """Runs while connected (an AgentClient start task); restarts the loops on a new configuration."""
        await self._configured.wait()
        while True:
            self._restart.clear()
            config = self.config
            assert config is not None
            poller = SnmpPoller() if config.snmp is not None else None
            tasks: list[asyncio.Task[Any]] = [asyncio.create_task(probe_loop(config, self.send))]
            if poller is not None:
                tasks.append(asyncio.create_task(snmp_loop(config, self.send, poller)))
            restart: asyncio.Task[Any] = asyncio.create_task(self._restart.wait())
            try:
                await asyncio.wait([*tasks, restart], return_when=asyncio.FIRST_COMPLETED)
                for t in tasks:
                    if t.done() and not t.cancelled() and t.exception() is not None:
                        log.warning("link-health loop stopped: %r", t.exception())
            finally:
                for t in (*tasks, restart):
                    t.cancel()
                for t in (*tasks, restart):
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t
                if poller is not None:
                    poller.close()
            if not self._restart.is_set():
                # A loop died on its own (e.g. the echo host cannot be resolved): retry later.
                await asyncio.sleep(min(config.step_s, 30.0))


def attach_link_health(client: Any) -> LinkHealthAgent:
    """Wire link health into an AgentClient: the hub's configure command, the loops."""
    host = urlsplit(str(client.config.hub_url)).hostname or "127.0.0.1"
    agent = LinkHealthAgent(default_host=host, send=client.send, local_snmp=local_snmp_target(client.config))
    client.add_command_handler(ConfigureLinkHealth, agent.on_configure)
    client.add_start_task(agent.run)
    return agent


def local_snmp_target(config: Any) -> SnmpTarget | None:
    """``extra["snmp"]`` of the agent's config: SnmpTarget fields, secrets as ``*_env`` names."""
    section = getattr(config, "extra", {}).get("snmp")
    if not isinstance(section, dict) or not section.get("host"):
        return None
    allowed = {
        "host", "port", "version", "if_index", "community_env", "user", "auth_protocol",
        "auth_key_env", "priv_protocol", "priv_key_env", "timeout_s", "retries",
    }
    return target_from_env_refs(**{k: v for k, v in section.items() if k in allowed})


# --- command line: one measurement, for diagnostics and the impairment test --------


def _bounded(kind: type[int] | type[float], low: float, high: float | None = None) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"{low:g}–{high:g}" if high is not None else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range ({span})")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m site_agent.netmon.probe", description="Probe a hub's UDP echo once and print the report."
    )
    parser.add_argument("host")
    parser.add_argument("port", type=_bounded(int, 1, 65535))
    parser.add_argument("--probes", type=_bounded(int, 1, 100_000), default=20)
    parser.add_argument("--spacing-ms", type=_bounded(float, 0.0, 60_000.0), default=50.0, help="mean Poisson spacing")
    parser.add_argument("--tmax-ms", type=_bounded(float, 1.0, 60_000.0), default=1000.0)
    parser.add_argument("--payload", type=_bounded(int, _HEADER.size, MAX_PROBE_BYTES), default=64)
    parser.add_argument("--seed", type=int, default=None)
    ns = parser.parse_args(argv)

    async def run() -> tuple[StepStats, bool]:
        async with Prober(ns.host, ns.port, payload_bytes=ns.payload, seed=ns.seed) as prober:
            return await prober.step(ns.probes, ns.spacing_ms / 1000.0, ns.tmax_ms), prober.kernel_stamped

    try:
        stats, stamped = asyncio.run(run())
    except OSError as exc:  # the name does not resolve, no route: say so, no traceback
        print(f"probe: cannot reach {ns.host} port {ns.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    out = stats.to_report().model_dump()
    out["received"] = stats.received
    out["kernel_stamped"] = stamped
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
