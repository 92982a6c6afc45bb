"""The SNMP poller against Debian's real snmpd on a loopback port (v2c and v3 authPriv)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from site_agent.netmon.snmp import CounterEvent, CounterTracker, SnmpPoller, SnmpState, SnmpTarget
from tests.hub.linkhealth.conftest import (
    COMMUNITY,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    Netns,
    Snmpd,
    free_udp_port,
    run,
)

pytestmark = pytest.mark.slow

LO_INDEX = int(Path("/sys/class/net/lo/ifindex").read_text())
# net-snmp caches the interface table for about 3 s; polls further apart than
# this always see fresh counters.
CACHE_S = 3.5


def v2c(d: Snmpd, if_index: int = LO_INDEX) -> SnmpTarget:
    return SnmpTarget(host="127.0.0.1", port=d.port, version="2c", if_index=if_index, community=COMMUNITY,
                      timeout_s=1.0, retries=1)


def v3(d: Snmpd, auth: str = V3_AUTH, if_index: int = LO_INDEX) -> SnmpTarget:
    return SnmpTarget(host="127.0.0.1", port=d.port, version="3", if_index=if_index, user=V3_USER,
                      auth_protocol="SHA", auth_key=auth, priv_protocol="AES", priv_key=V3_PRIV,
                      timeout_s=1.0, retries=1)


def blast(dest: str, total_bytes: int, payload: int = 1400) -> int:
    """UDP to a discard port; returns the bytes on the wire as ifHCOutOctets counts them (L2)."""
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    packets = total_bytes // payload
    data = b"\x5a" * payload
    for _ in range(packets):
        tx.sendto(data, (dest, 9))
    tx.close()
    return packets * (payload + 8 + 20 + 14)  # UDP, IPv4, Ethernet headers


async def test_v2c_and_v3_rates_match_the_bytes_sent(netns: Netns, snmpd: Snmpd) -> None:
    """Traffic on an interface nobody else uses (lo is shared with the whole machine)."""
    # Quiet the link: no IPv6 neighbour discovery or MLD chatter, a static neighbour entry.
    run("sysctl", "-qw", f"net.ipv6.conf.{netns.hub_if}.disable_ipv6=1")
    mac = netns.exec("cat", f"/sys/class/net/{netns.agent_if}/address").stdout.strip()
    run("ip", "neigh", "replace", netns.agent_ip, "lladdr", mac, "dev", netns.hub_if, "nud", "permanent")
    await asyncio.sleep(0.5)
    poller = SnmpPoller()
    try:
        for target in (v2c(snmpd, netns.hub_ifindex), v3(snmpd, if_index=netns.hub_ifindex)):
            tracker = CounterTracker()
            first = await poller.poll(target)
            assert first.state is SnmpState.OK, first.detail
            assert first.oper_status == 1 and first.sys_uptime is not None
            assert first.high_speed_mbps == 10_000  # veth reports 10 Gbit/s
            tracker.update(first)
            wire = await asyncio.to_thread(blast, netns.agent_ip, 8_000_000)
            await asyncio.sleep(CACHE_S)
            sample = tracker.update(await poller.poll(target))
            assert sample.state is SnmpState.OK and sample.out_bps is not None and sample.interval_s
            # bps × interval rounds-trips the counter delta through floats: compare whole bytes.
            counted = round(sample.out_bps * sample.interval_s / 8)
            assert wire <= counted <= wire + 2_000, (target.version, wire, counted)
            assert sample.events == ()
    finally:
        poller.close()


async def test_wrong_v3_password_is_a_state(snmpd: Snmpd) -> None:
    poller = SnmpPoller()
    try:
        bad = await poller.poll(v3(snmpd, auth="not-the-password"))
        assert bad.state is SnmpState.AUTH_FAILED, bad.detail
        # The engine is still usable, and the right key still works afterwards.
        good = await poller.poll(v3(snmpd))
        assert good.state is SnmpState.OK, good.detail
    finally:
        poller.close()


async def test_unreachable_and_no_such_object_are_states(snmpd: Snmpd) -> None:
    poller = SnmpPoller()
    try:
        silent = SnmpTarget(host="127.0.0.1", port=free_udp_port(), community=COMMUNITY, timeout_s=0.3, retries=0)
        missing_if = v2c(snmpd, )
        missing_if = SnmpTarget(**{**missing_if.__dict__, "if_index": 424242})
        wrong_community = SnmpTarget(**{**v2c(snmpd).__dict__, "community": "nope", "timeout_s": 0.3, "retries": 0})
        unresolvable = SnmpTarget(host="router.invalid", community=COMMUNITY, timeout_s=0.3, retries=0)
        no_secret = SnmpTarget(host="127.0.0.1", port=snmpd.port, version="3", user=V3_USER)
        results = await asyncio.gather(*(poller.poll(t) for t in (silent, missing_if, wrong_community, unresolvable, no_secret)))
        states = [r.state for r in results]
        assert states == [SnmpState.TIMEOUT, SnmpState.NO_SUCH_OBJECT, SnmpState.TIMEOUT,
                          SnmpState.CONFIG_ERROR, SnmpState.CONFIG_ERROR], [(r.state, r.detail) for r in results]
        assert "424242" in results[1].detail
        tracker = CounterTracker()
        for r in results:
            s = tracker.update(r)
            assert s.in_bps is None and s.state is r.state
    finally:
        poller.close()


async def test_snmpd_restart_is_reported_as_router_rebooted(snmpd: Snmpd) -> None:
    poller = SnmpPoller()
    tracker = CounterTracker()
    try:
        target = v2c(snmpd)
        await asyncio.sleep(1.5)  # let sysUpTime grow past what a fresh start shows
        assert tracker.update(await poller.poll(target)).state is SnmpState.OK
        await asyncio.to_thread(snmpd.restart)
        after = tracker.update(await poller.poll(target))
        assert after.events == (CounterEvent.REBOOT,), after
        assert after.in_bps is None
    finally:
        poller.close()
