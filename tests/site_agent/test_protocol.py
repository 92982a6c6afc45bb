"""Every message round-trips; every malformed frame becomes a named ProtocolError."""

from __future__ import annotations

import json
import time

import pytest

from site_agent import protocol as p

AGENT_SAMPLES = [
    p.Hello(site="UDN01", token="t" * 43, agent_version="0.1.0", hostname="pc", os="Linux"),
    p.Heartbeat(seq=3, sent_at=time.time()),
    p.Status(state="ready", camera=True, microphone=False, detail="ok"),
    p.LinkReport(step_s=60, probes=20, rtt_ms_median=2.5, jitter_ms=0.3, loss_pct=0.0, tmax_ms=1000,
                 measured_at=time.time()),
    p.Ack(id="abc", ok=False, detail="nope", result={"x": 1}),
    p.Error(code="bad", message="m", ref="r"),
    p.SnmpReport(state="ok", if_index=2, oper_status=1, high_speed_mbps=1000, sys_uptime=12345,
                 in_bps=1.5e6, out_bps=2e5, interval_s=60, events=["counters_reset"], measured_at=time.time()),
    p.SelfTestReport(ready=False, reasons=["ไม่พบกล้อง"], checks=[{"name": "camera", "ok": False}],
                     trigger="clerk", measured_at=time.time()),
    p.ClerkRequest(action="join", sent_at=time.time()),
    p.FloorRequest(action="request", priority=3, conference_id=4),
]
HUB_SAMPLES = [
    p.Welcome(site="UDN01", name_th="เมืองอุดรธานี", name_en="Mueang", heartbeat_s=5, report_s=10,
              hub_version="0.1.0", server_time=time.time()),
    p.HeartbeatAck(seq=1, echo_sent_at=1.5),
    p.Command(name="join", args={"conference_id": 7}),
    p.UpdateRequired(min_version="0.2.0", your_version="0.1.0", message_th="อัปเดต", message_en="update"),
    p.Error(code="x", message="y", fatal=True),
]


@pytest.mark.parametrize("message", AGENT_SAMPLES, ids=lambda m: m.type)
def test_agent_messages_round_trip(message: p.Hello) -> None:
    assert p.decode_from_agent(p.encode(message)) == message


@pytest.mark.parametrize("message", HUB_SAMPLES, ids=lambda m: m.type)
def test_hub_messages_round_trip(message: p.Welcome) -> None:
    assert p.decode_from_hub(p.encode(message)) == message


def test_every_message_type_has_a_round_trip_sample() -> None:
    assert {m.type for m in AGENT_SAMPLES} == p.AGENT_MESSAGE_TYPES
    assert {m.type for m in HUB_SAMPLES} == p.HUB_MESSAGE_TYPES


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        (b"\xff\xfe", "bad_encoding"),
        ("[1, 2]", "bad_message"),
        ('{"no": "type"}', "bad_message"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "welcome", "site": "UDN01"}', "unknown_type"),  # hub-only type from an agent
        ('{"type": "heartbeat", "seq": -1, "sent_at": 1}', "invalid"),
        ('{"type": "heartbeat", "seq": 1, "sent_at": 1, "extra": true}', "invalid"),
        ('{"type": "hello", "site": "udn 01", "token": "xxxxxxxxxxxxxxxxxxxx", "agent_version": "1"}', "invalid"),
        ("x" * (p.MAX_FRAME_BYTES + 1), "too_large"),
    ],
)
def test_malformed_frames_are_named(frame: str | bytes, code: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode_from_agent(frame)
    assert info.value.code == code
    assert info.value.to_message().code == code


def test_invalid_field_is_named_in_the_message() -> None:
    frame = json.dumps({"type": "link_report", "step_s": 10, "probes": 5, "loss_pct": 140, "measured_at": 1})
    with pytest.raises(p.ProtocolError) as info:
        p.decode_from_agent(frame)
    assert "loss_pct" in info.value.message
