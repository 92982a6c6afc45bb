"""Pure parts: counter tracker (wraps, resets, reboots), jitter, loss vs Tmax, colours, severity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.alarms.model import severity_for
from site_agent.config import AgentConfig
from site_agent.netmon.probe import JitterEstimator, LinkHealthConfig, local_snmp_target, summarise
from site_agent.netmon.snmp import (
    CounterEvent,
    CounterTracker,
    SnmpReading,
    SnmpState,
    SnmpTarget,
    target_from_env_refs,
    utilisation_pct,
)
from site_agent.netmon.thresholds import Thresholds, classify


def reading(mono: float, octets_in: int, octets_out: int, *, uptime: int | None = None,
            disc: int = 0, speed: int = 1000, state: SnmpState = SnmpState.OK) -> SnmpReading:
    return SnmpReading(
        state, mono, 1_700_000_000 + mono,
        sys_uptime=int(mono * 100) if uptime is None else uptime,
        in_octets=octets_in, out_octets=octets_out, high_speed_mbps=speed, oper_status=1, discontinuity=disc,
    )


def test_first_reading_gives_no_rate_then_exact_rate() -> None:
    t = CounterTracker()
    first = t.update(reading(100.0, 1_000, 2_000))
    assert first.in_bps is None and first.events == ()
    second = t.update(reading(160.0, 1_000 + 1_500_000_000, 2_000 + 600_000_000))
    assert second.in_bps == pytest.approx(1_500_000_000 * 8 / 60)  # 200 Mbit/s
    assert second.out_bps == pytest.approx(80e6)
    assert second.interval_s == pytest.approx(60.0)
    assert utilisation_pct(second.in_bps, 200) == pytest.approx(100.0)
    assert utilisation_pct(second.out_bps, 80) == pytest.approx(100.0)


def test_64bit_wrap_is_a_rate_not_a_spike() -> None:
    t = CounterTracker()
    top = 2**64 - 1_000
    t.update(reading(0.0, top, 5))
    s = t.update(reading(10.0, 9_000, 5))  # passed 2**64 by 10,000 octets
    assert CounterEvent.WRAP in s.events
    assert s.in_bps == pytest.approx(10_000 * 8 / 10)


def test_32bit_counter_wraps_at_1gbit() -> None:
    t = CounterTracker(counter_bits=32)
    t.update(reading(0.0, 4_000_000_000, 0))
    # 400 MB in 10 s (320 Mbit/s) carries the counter past 2**32 (4.29e9).
    new = (4_000_000_000 + 400_000_000) % 2**32
    s = t.update(reading(10.0, new, 0))
    assert s.events == (CounterEvent.WRAP,)
    assert s.in_bps == pytest.approx(320e6)


def test_discontinuity_change_is_a_reset_without_rate() -> None:
    t = CounterTracker()
    t.update(reading(0.0, 10**12, 10**12, disc=0))
    s = t.update(reading(60.0, 5_000, 5_000, disc=5_900))
    assert s.events == (CounterEvent.RESET,)
    assert s.in_bps is None and s.out_bps is None
    # The next interval is measured from the new baseline.
    s = t.update(reading(120.0, 5_000 + 750_000, 5_000, disc=5_900))
    assert s.in_bps == pytest.approx(100_000.0) and s.events == ()


def test_uptime_falling_is_a_reboot_without_rate() -> None:
    t = CounterTracker()
    t.update(reading(1000.0, 10**9, 10**9, uptime=100_000))
    s = t.update(reading(1060.0, 42, 42, uptime=3_000))
    assert s.events == (CounterEvent.REBOOT,)
    assert s.in_bps is None


def test_sysuptime_wrapping_after_497_days_is_not_a_reboot() -> None:
    t = CounterTracker()
    t.update(reading(0.0, 0, 0, uptime=2**32 - 1_000))  # 10 s before the wrap
    s = t.update(reading(60.0, 600, 600, uptime=5_000))
    assert CounterEvent.REBOOT not in s.events
    assert s.in_bps == pytest.approx(80.0)


def test_unannounced_reset_is_not_shown_as_a_wrap() -> None:
    t = CounterTracker()
    t.update(reading(0.0, 10**15, 10**15))
    s = t.update(reading(60.0, 1_000, 1_000))  # fell; a wrap would mean ~2**64 octets in 60 s
    assert s.events == (CounterEvent.RESET,)
    assert s.in_bps is None


def test_rate_above_port_speed_is_discarded() -> None:
    t = CounterTracker()
    t.update(reading(0.0, 0, 0, speed=100))
    s = t.update(reading(1.0, 10**9, 0, speed=100))  # 8 Gbit/s on a 100 Mbit/s port
    assert s.events == (CounterEvent.IMPLAUSIBLE,)
    assert s.in_bps is None


def test_failed_poll_keeps_the_baseline() -> None:
    t = CounterTracker()
    t.update(reading(0.0, 0, 0))
    bad = t.update(SnmpReading(SnmpState.TIMEOUT, 60.0, 1.0, "No SNMP response"))
    assert bad.state is SnmpState.TIMEOUT and bad.in_bps is None
    s = t.update(reading(120.0, 1_200_000, 0))
    assert s.in_bps == pytest.approx(80_000.0)


def test_target_problems_are_config_errors_not_exceptions() -> None:
    assert SnmpTarget(host="").problem()
    assert SnmpTarget(host="r1", version="1", community="x").problem()
    assert SnmpTarget(host="r1", version="2c").problem() == "v2c target without a community"
    assert "at least 8" in (SnmpTarget(host="r1", version="3", user="u", auth_key="short", priv_key="alsoshort").problem() or "")
    assert SnmpTarget(host="r1", version="3", user="u", auth_protocol="ROT13", auth_key="x" * 8, priv_key="y" * 8).problem()
    t = target_from_env_refs(host="r1", community_env="LH_TEST_COMMUNITY", environ={"LH_TEST_COMMUNITY": "abc"})
    assert t.community == "abc" and t.problem() is None
    assert target_from_env_refs(host="r1", community_env="UNSET_VAR", environ={}).problem()


def test_agent_config_section_overrides_the_hub_target(tmp_path: Path) -> None:
    config = AgentConfig(hub_url="https://hub.example:8443", site="UDN05", token="t" * 32, config_dir=tmp_path,
                         extra={"snmp": {"host": "192.168.1.1", "version": "2c", "if_index": 3,
                                         "community_env": "LH_LOCAL_COMMUNITY", "bogus": 1}})
    target = local_snmp_target(config)
    assert target is not None and (target.host, target.if_index) == ("192.168.1.1", 3)
    assert local_snmp_target(AgentConfig(hub_url="x", site="UDN05", token="t", config_dir=tmp_path)) is None
    parsed = LinkHealthConfig.from_args(
        {"echo_port": 9999, "step_s": 30, "probes_per_step": 10, "snmp": {"host": "10.0.0.1", "community": "c"}},
        default_host="hub.example",
    )
    assert (parsed.echo_host, parsed.echo_port, parsed.step_s) == ("hub.example", 9999, 30.0)
    assert parsed.snmp is not None and parsed.snmp.community == "c"


def test_jitter_is_the_rfc3550_estimator() -> None:
    j = JitterEstimator()
    for transit in (10.0, 14.0, 10.0, 10.0):
        j.update(transit)
    # D = 4, 4, 0 → J = 4/16 = 0.25; 0.25 + (4-0.25)/16 = 0.484375; then × 15/16.
    assert j.jitter_ms == pytest.approx(0.484375 * 15 / 16)


def test_probe_later_than_tmax_is_lost() -> None:
    ms = 1_000_000
    sent = {1: 0, 2: 10 * ms, 3: 20 * ms, 4: 30 * ms}
    received = {1: 5 * ms, 2: 15 * ms, 3: 20 * ms + 250 * ms}  # 3 arrives after Tmax; 4 never
    stats = summarise(sent, received, 200.0, JitterEstimator(), 0.03)
    assert stats.probes == 4 and stats.received == 2
    assert stats.loss_pct == 50.0
    report = stats.to_report(measured_at=1.0)
    assert report.rtt_ms_median == 5.0 and report.tmax_ms == 200.0 and report.source == "probe"


def test_classify_thresholds() -> None:
    t = Thresholds(rtt_amber_ms=100, rtt_red_ms=300, jitter_amber_ms=30, jitter_red_ms=60,
                   loss_amber_pct=1, loss_red_pct=5)
    assert classify(t, rtt_ms=5, jitter_ms=1, loss_pct=0, probes=20) == "green"
    assert classify(t, rtt_ms=150, jitter_ms=1, loss_pct=0, probes=20) == "amber"
    assert classify(t, rtt_ms=5, jitter_ms=1, loss_pct=5, probes=20) == "red"
    assert classify(t, rtt_ms=5, jitter_ms=61, loss_pct=0, probes=20) == "red"
    assert classify(t, rtt_ms=None, jitter_ms=None, loss_pct=100, probes=20) == "down"


def test_alarm_severity_near_a_briefing() -> None:
    now = datetime(2026, 11, 23, 1, 45, tzinfo=UTC)  # 08:45 in Udon Thani
    nine = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert severity_for(now, nine, 30) == "critical"
    assert severity_for(now, nine + timedelta(minutes=16), 30) == "warning"
    assert severity_for(now, None, 30) == "warning"
    assert severity_for(now, now - timedelta(minutes=1), 30) == "warning"  # already started
