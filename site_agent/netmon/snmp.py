"""SNMP polling of a district router's WAN interface, shared by agent and hub.

Two halves:

* :class:`CounterTracker` is pure: it turns successive :class:`SnmpReading`
  values into bit rates, and decides when a counter difference must *not* be
  turned into a rate (router rebooted, counters reset, first reading,
  implausible jump). A rate is never computed across a discontinuity, so a
  reset never shows up as a spike of petabits.
* :class:`SnmpPoller` does the I/O with pysnmp 7 (asyncio): one
  ``SnmpEngine`` per poller, v2c or v3 USM (auth+priv), one GET of the seven
  IF-MIB / SNMPv2-MIB objects per poll. Every failure — timeout, wrong v3
  key, missing object — comes back as a :class:`SnmpState` value; ``poll``
  does not raise.

Objects and their meaning: ``docs`` of the project, reference/link-health.md
(RFC 2863 IF-MIB).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as hauth
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from site_agent.protocol import SnmpReport

log = logging.getLogger(__name__)

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
IF_COUNTER_DISCONTINUITY = "1.3.6.1.2.1.31.1.1.1.19"

# sysUpTime is a TimeTicks (hundredths of a second), itself a 32-bit value.
TICKS_MODULO = 2**32
# With no ifHighSpeed to judge by, no access link of ours moves more than this.
FALLBACK_MAX_BPS = 100e9
# Measured rates may exceed the port speed slightly (clock skew between two
# polls, counters updated in bursts); beyond this factor a rate is nonsense.
SPEED_SLACK = 1.10


class SnmpState(enum.StrEnum):
    """What the last poll found, as a value the UI can colour and translate."""

    OK = "ok"
    TIMEOUT = "timeout"  # no answer: host down, wrong community (v2c drops silently), filtered
    AUTH_FAILED = "auth_failed"  # v3: wrong key / unknown user / wrong security level
    NO_SUCH_OBJECT = "no_such_object"  # answered, but the interface or object does not exist
    CONFIG_ERROR = "config_error"  # our side: missing secret, bad protocol name, bad host
    ERROR = "error"  # any other SNMP error status


class CounterEvent(enum.StrEnum):
    REBOOT = "router_rebooted"  # sysUpTime fell
    RESET = "counters_reset"  # discontinuity time changed, or counters fell without a wrap
    WRAP = "counter_wrapped"  # counter passed its modulus: handled, rate still valid
    IMPLAUSIBLE = "implausible"  # a rate above the port speed: discarded


@dataclass(frozen=True)
class SnmpReading:
    """The raw values of one poll. ``mono`` is the poller's monotonic clock."""

    state: SnmpState
    mono: float
    at: float  # wall clock, for storage
    detail: str = ""
    sys_uptime: int | None = None  # TimeTicks
    in_octets: int | None = None
    out_octets: int | None = None
    high_speed_mbps: int | None = None
    oper_status: int | None = None  # 1 up, 2 down, ... (RFC 2863)
    discontinuity: int | None = None  # TimeTicks


@dataclass(frozen=True)
class RateSample:
    """A reading turned into what the hub stores and shows."""

    state: SnmpState
    at: float
    detail: str = ""
    oper_status: int | None = None
    high_speed_mbps: int | None = None
    sys_uptime: int | None = None
    in_bps: float | None = None
    out_bps: float | None = None
    interval_s: float | None = None
    events: tuple[CounterEvent, ...] = ()

    def to_report(self, if_index: int) -> SnmpReport:
        """The protocol message for this reading (sent by the agent, recorded by the hub's poller)."""
        return SnmpReport(
            state=self.state.value,
            detail=self.detail[:500],
            if_index=if_index,
            oper_status=self.oper_status if self.oper_status and 1 <= self.oper_status <= 7 else None,
            high_speed_mbps=self.high_speed_mbps,
            sys_uptime=self.sys_uptime,
            in_bps=self.in_bps,
            out_bps=self.out_bps,
            interval_s=self.interval_s,
            events=[e.value for e in self.events],
            measured_at=self.at,
        )


def utilisation_pct(bps: float | None, plan_mbps: float) -> float | None:
    """Share of the contracted plan in use (not of the port speed)."""
    if bps is None or plan_mbps <= 0:
        return None
    return bps * 100.0 / (plan_mbps * 1e6)


@dataclass
class CounterTracker:
    """Rates from successive readings of one interface, robust to resets and wraps.

    ``counter_bits`` is 64 for the HC counters; 32 exists for routers that
    only have ifInOctets (they wrap in 34 s at 1 Gbit/s, so a wrap is normal).
    """

    counter_bits: int = 64
    _last: SnmpReading | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        self._last = None

    def update(self, reading: SnmpReading) -> RateSample:
        base = RateSample(
            state=reading.state,
            at=reading.at,
            detail=reading.detail,
            oper_status=reading.oper_status,
            high_speed_mbps=reading.high_speed_mbps,
            sys_uptime=reading.sys_uptime,
        )
        if reading.state is not SnmpState.OK:
            # Keep the last good baseline: the next good reading still yields a
            # (long-interval) average unless the router restarted meanwhile.
            return base
        prev, self._last = self._last, reading
        if prev is None:
            return base
        events: list[CounterEvent] = []
        if _uptime_fell(prev, reading):
            return replace(base, events=(CounterEvent.REBOOT,))
        if (
            prev.discontinuity is not None
            and reading.discontinuity is not None
            and prev.discontinuity != reading.discontinuity
        ):
            return replace(base, events=(CounterEvent.RESET,))
        dt = reading.mono - prev.mono
        if dt <= 0:
            return base
        max_bps = (
            reading.high_speed_mbps * 1e6 * SPEED_SLACK
            if reading.high_speed_mbps
            else FALLBACK_MAX_BPS
        )
        rates: list[float] = []
        for old, new in ((prev.in_octets, reading.in_octets), (prev.out_octets, reading.out_octets)):
            if old is None or new is None:
                return base
            delta = new - old
            if delta < 0:
                wrapped = delta + 2**self.counter_bits
                if wrapped * 8 / dt <= max_bps:
                    delta = wrapped
                    if CounterEvent.WRAP not in events:
                        events.append(CounterEvent.WRAP)
                else:
                    # Fell by more than a wrap could explain: a reset the router
                    # did not announce through ifCounterDiscontinuityTime.
                    return replace(base, events=(CounterEvent.RESET,))
            rates.append(delta * 8 / dt)
        if any(r > max_bps for r in rates):
            return replace(base, events=(CounterEvent.IMPLAUSIBLE,))
        return replace(
            base, in_bps=rates[0], out_bps=rates[1], interval_s=dt, events=tuple(events)
        )


def _uptime_fell(prev: SnmpReading, new: SnmpReading) -> bool:
    if prev.sys_uptime is None or new.sys_uptime is None:
        return False
    if new.sys_uptime >= prev.sys_uptime:
        return False
    # TimeTicks wrap after 497 days: the uptime "falls" by about 2**32 while
    # the elapsed time matches. Tolerate a minute of disagreement.
    elapsed_ticks = (new.mono - prev.mono) * 100
    crossed = prev.sys_uptime + elapsed_ticks >= TICKS_MODULO - 6000
    expected = (prev.sys_uptime + elapsed_ticks) % TICKS_MODULO
    return not (crossed and abs(expected - new.sys_uptime) <= 6000)


# --- targets -------------------------------------------------------------------

AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("DES", "3DES", "AES", "AES192", "AES256")


@dataclass(frozen=True)
class SnmpTarget:
    """Where and how to poll one router interface. Holds resolved secrets: never log it whole."""

    host: str
    port: int = 161
    version: str = "2c"  # "2c" or "3"
    if_index: int = 1
    community: str = ""
    user: str = ""
    auth_protocol: str = "SHA"
    auth_key: str = ""
    priv_protocol: str = "AES"
    priv_key: str = ""
    timeout_s: float = 2.0
    retries: int = 1

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port} if{self.if_index} v{self.version}"

    def problem(self) -> str | None:
        """Why this target cannot be polled as configured, or None."""
        if not self.host:
            return "no SNMP host configured"
        if self.version not in ("2c", "3"):
            return f"SNMP version {self.version!r} is not supported (2c or 3)"
        if self.version == "2c" and not self.community:
            return "v2c target without a community"
        if self.version == "3":
            if not self.user:
                return "v3 target without a user"
            if self.auth_protocol.upper() not in AUTH_PROTOCOLS:
                return f"unknown v3 auth protocol {self.auth_protocol!r}"
            if self.priv_protocol.upper() not in PRIV_PROTOCOLS:
                return f"unknown v3 privacy protocol {self.priv_protocol!r}"
            if len(self.auth_key) < 8 or len(self.priv_key) < 8:
                return "v3 auth and privacy keys must be at least 8 characters"
        return None


def target_from_env_refs(
    *,
    host: str,
    port: int = 161,
    version: str = "2c",
    if_index: int = 1,
    community_env: str = "",
    user: str = "",
    auth_protocol: str = "SHA",
    auth_key_env: str = "",
    priv_protocol: str = "AES",
    priv_key_env: str = "",
    timeout_s: float = 2.0,
    retries: int = 1,
    environ: dict[str, str] | None = None,
) -> SnmpTarget:
    """Build a target whose secrets are named by environment variables (inventory style).

    An unset variable leaves the secret empty; :meth:`SnmpTarget.problem` then says so.
    """
    env = os.environ if environ is None else environ
    return SnmpTarget(
        host=host,
        port=port,
        version=version,
        if_index=if_index,
        community=env.get(community_env, "") if community_env else "",
        user=user,
        auth_protocol=auth_protocol or "SHA",
        auth_key=env.get(auth_key_env, "") if auth_key_env else "",
        priv_protocol=priv_protocol or "AES",
        priv_key=env.get(priv_key_env, "") if priv_key_env else "",
        timeout_s=timeout_s,
        retries=retries,
    )


# --- I/O -------------------------------------------------------------------------


class SnmpPoller:
    """One pysnmp engine polling any number of targets concurrently.

    Create it inside the running event loop; call :meth:`close` when done.
    """

    def __init__(self, *, max_concurrency: int = 200) -> None:
        self._engine = SnmpEngine()
        self._transports: dict[tuple[str, int, float, int], Any] = {}
        self._auth: dict[SnmpTarget, Any] = {}
        self._prepared: set[SnmpTarget] = set()
        self._sem = asyncio.Semaphore(max_concurrency)

    def close(self) -> None:
        try:
            self._engine.close_dispatcher()
        except Exception:  # closing is best effort; nothing to report to the caller
            log.debug("closing the SNMP dispatcher failed", exc_info=True)

    def _auth_data(self, target: SnmpTarget) -> Any:
        cached = self._auth.get(target)
        if cached is not None:
            return cached

        data: Any
        if target.version == "2c":
            data = CommunityData(target.community, mpModel=1)
        else:
            auth_map = {
                "MD5": hauth.USM_AUTH_HMAC96_MD5,
                "SHA": hauth.USM_AUTH_HMAC96_SHA,
                "SHA224": hauth.USM_AUTH_HMAC128_SHA224,
                "SHA256": hauth.USM_AUTH_HMAC192_SHA256,
                "SHA384": hauth.USM_AUTH_HMAC256_SHA384,
                "SHA512": hauth.USM_AUTH_HMAC384_SHA512,
            }
            priv_map = {
                "DES": hauth.USM_PRIV_CBC56_DES,
                "3DES": hauth.USM_PRIV_CBC168_3DES,
                "AES": hauth.USM_PRIV_CFB128_AES,
                "AES192": hauth.USM_PRIV_CFB192_AES,
                "AES256": hauth.USM_PRIV_CFB256_AES,
            }
            data = UsmUserData(
                target.user,
                authKey=target.auth_key,
                privKey=target.priv_key,
                authProtocol=auth_map[target.auth_protocol.upper()],
                privProtocol=priv_map[target.priv_protocol.upper()],
            )
        self._auth[target] = data
        return data

    async def prepare(self, targets: Iterable[SnmpTarget]) -> int:
        """Configure the engine for targets ahead of polling; returns how many were new.

        pysnmp builds its per-target tables on first use (about 10 ms of CPU per
        target). Done here one at a time, yielding between targets, so a hub with
        a thousand routers does not stall its event loop — or time out its own
        first requests — while building them.
        """

        added = 0
        for target in targets:
            if target in self._prepared or target.problem():
                continue
            try:
                LCD.configure(self._engine, self._auth_data(target), await self._transport(target), b"")
            except Exception as exc:  # poll() reports the same problem as a state
                log.debug("cannot prepare %s: %s", target.label, exc)
                continue
            self._prepared.add(target)
            added += 1
            await asyncio.sleep(0)
        return added

    async def _transport(self, target: SnmpTarget) -> Any:
        key = (target.host, target.port, target.timeout_s, target.retries)
        tr = self._transports.get(key)
        if tr is None:
            tr = await UdpTransportTarget.create(
                (target.host, target.port), timeout=target.timeout_s, retries=target.retries
            )
            self._transports[key] = tr
        return tr

    async def poll(self, target: SnmpTarget) -> SnmpReading:
        """One GET of the interface's objects. Never raises (except cancellation)."""
        now_wall = time.time()
        problem = target.problem()
        if problem:
            return SnmpReading(SnmpState.CONFIG_ERROR, time.monotonic(), now_wall, problem)
        async with self._sem:
            try:
                return await self._poll(target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # pysnmp raises assorted types for bad input
                log.warning("SNMP poll of %s failed: %s", target.label, exc)
                text = f"{type(exc).__name__}: {exc}"
                # An unresolvable host name surfaces as a PySnmpError about the address.
                bad_config = isinstance(exc, OSError | ValueError) or "transport address" in str(exc)
                return SnmpReading(
                    SnmpState.CONFIG_ERROR if bad_config else SnmpState.ERROR,
                    time.monotonic(),
                    time.time(),
                    text[:500],
                )

    async def _poll(self, target: SnmpTarget) -> SnmpReading:
        idx = target.if_index
        oids = (
            SYS_UPTIME,
            f"{IF_HC_IN_OCTETS}.{idx}",
            f"{IF_HC_OUT_OCTETS}.{idx}",
            f"{IF_HIGH_SPEED}.{idx}",
            f"{IF_OPER_STATUS}.{idx}",
            f"{IF_COUNTER_DISCONTINUITY}.{idx}",
        )
        transport = await self._transport(target)
        err_ind, err_status, err_index, var_binds = await get_cmd(
            self._engine,
            self._auth_data(target),
            transport,
            ContextData(),
            *(ObjectType(ObjectIdentity(o)) for o in oids),
            lookupMib=False,
        )
        mono, wall = time.monotonic(), time.time()
        if err_ind:
            text = str(err_ind)
            return SnmpReading(_state_for_indication(text), mono, wall, text)
        if err_status:
            text = err_status.prettyPrint() if hasattr(err_status, "prettyPrint") else str(err_status)
            state = SnmpState.NO_SUCH_OBJECT if text in ("noSuchName",) else SnmpState.ERROR
            return SnmpReading(state, mono, wall, f"{text} at index {int(err_index)}")
        values: list[int | None] = []
        missing: list[str] = []
        for oid, vb in zip(oids, var_binds, strict=True):
            value = vb[1]
            if isinstance(value, NoSuchObject | NoSuchInstance | EndOfMibView):
                missing.append(oid)
                values.append(None)
            else:
                values.append(int(value))
        uptime, hc_in, hc_out, speed, oper, disc = values
        reading = SnmpReading(
            SnmpState.OK,
            mono,
            wall,
            sys_uptime=uptime,
            in_octets=hc_in,
            out_octets=hc_out,
            high_speed_mbps=speed,
            oper_status=oper,
            discontinuity=disc,
        )
        # Discontinuity time is optional in practice; the counters are not.
        essential = [o for o in missing if not o.startswith(IF_COUNTER_DISCONTINUITY)]
        if essential:
            return replace(
                reading, state=SnmpState.NO_SUCH_OBJECT, detail="no such object: " + ", ".join(essential)
            )
        return reading


def _state_for_indication(text: str) -> SnmpState:
    lowered = text.lower()
    if "timeout" in lowered or "no snmp response" in lowered:
        return SnmpState.TIMEOUT
    # pysnmp's USM error indications: wrong key, unknown user, wrong level.
    auth_words = ("digest", "unknown user", "unknown snmp security", "security level",
                  "decrypt", "authentication")
    if any(word in lowered for word in auth_words):
        return SnmpState.AUTH_FAILED
    return SnmpState.ERROR
