"""Every message, command and reply round-trips; every malformed frame becomes a named ProtocolError.

The samples are checked against the unions themselves: a new message, command or
reply without a round-trip case here fails ``test_every_type_has_a_round_trip_sample``.
"""

from __future__ import annotations

import json
import typing
from dataclasses import fields

import pytest
from pydantic import BaseModel

from site_agent import protocol as p
from site_agent.netmon.snmp import SnmpTarget
from site_agent.netmon.thresholds import Thresholds

NOW = 1_767_000_000.0
LIMIT = p.DEFAULT_MAX_FRAME_BYTES
PROFILE = p.MediaProfile(width=640, height=360, fps=25, kbps=600)
ROUTER = p.RouterTarget(host="10.1.2.1", version="3", if_index=2, user="mon", auth_key="k" * 12, priv_key="q" * 12)
THRESHOLDS = p.LinkThresholds(rtt_amber_ms=100, rtt_red_ms=300, jitter_amber_ms=30, jitter_red_ms=60,
                              loss_amber_pct=1, loss_red_pct=5)

COMMAND_SAMPLES: list[p.HubCommand[typing.Any]] = [
    p.Ping(echo=NOW),
    p.GetStatus(),
    p.JoinConference(conference_id=7, title="ประชุมประจำเดือน", name_th="เมืองอุดรธานี", send_profile=PROFILE),
    p.MediaAnswer(conference_id=7, sdp="v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"),
    p.SendProfile(conference_id=7, profile=PROFILE),
    p.LeaveConference(conference_id=7),
    p.MediaStatus(),
    p.ConferenceState(conference_id=7, holder="UDN02", mic_open=True, heard=True,
                      floor=p.FloorView(status="queued", position=2, request_id=4)),
    p.ClerkState(link="degraded", in_briefing=True, help_phone="042-000-000",
                 briefings=[p.BriefingInfo(title_th="ประชุม", starts_at=NOW, key="occurrence:3")]),
    p.Reminder(occurrence_id=3, title="ประชุมสงกรานต์", starts_at=NOW, message_th="อีกไม่นาน", message_en="soon"),
    p.SelfTest(occurrence_id=3, title="ประชุม", starts_at=NOW),
    p.UpdateCheck(),
    p.SendLogs(),
    p.ConfigureLinkHealth(echo_port=9999, probes_per_step=20, step_s=60, tmax_ms=1000, snmp_interval_s=60,
                          snmp=ROUTER, thresholds=THRESHOLDS),
    # the meeting (issue 16)
    p.IdentityPrompt(conference_id=7, title="ประชุม", people=[p.PersonWire(name="นายสมชาย ใจดี", position="นายอำเภอ")]),
    p.RollCallStart(conference_id=7, roll_call_id=2, deadline=NOW + 60, seconds=60),
    p.PollOpen(conference_id=7, poll_id=3, question="เห็นชอบหรือไม่", options=["เห็นชอบ", "ไม่เห็นชอบ"],
               ballot="secret", unit="person", closes_at=NOW + 300, people=["นายสมชาย ใจดี"]),
    p.PollClosed(conference_id=7, poll_id=3, counts=[3, 1]),
    p.MeetingAnswer(conference_id=7, action="vote", ok=False, reason="double_vote", message_th="ลงมติไปแล้ว",
                    message_en="already voted", ref=3),
    p.JoinRefused(conference_id=7, reason="second_factor_required", message_th="ต้องยืนยันรหัส",
                  message_en="needs the code", second_factor=True),
]
REPLY_SAMPLES: list[p.Reply] = [
    p.Done(),
    p.Pong(received_at=NOW, echo=NOW - 0.01),
    p.AgentState(state="connected", version="0.3.0", connects=2),
    p.MediaOffer(sdp="v=0\r\n"),
    p.MediaConnection(state="connecting"),
    p.ProfileApplied(width=640, height=360, fps=25),
    p.MediaCounters(state="connected", video_frames=10, audio_frames=50, conference_id=7),
    p.ClerkStateApplied(applied=["link"]),
    p.SelfTestResult(ready=False, reasons=["✘ กล้อง: ไม่ผ่าน"], reasons_en=["✘ Camera: FAIL"], started_at=NOW,
                     duration_s=1.5, checks=[p.SelfTestCheck(key="camera", outcome="fail", title_th="กล้อง",
                                                             title_en="Camera", advice_th="เสียบกล้อง")]),
    p.UpdateOutcome(outcome="deferred", version="0.4.0", reason="a briefing is running"),
    p.LogsSent(stored="20261201T090000Z.log.gz", bytes=1234),
    p.LinkHealthConfigured(probing=True, snmp=True),
]
AGENT_SAMPLES: list[BaseModel] = [
    p.Hello(site="UDN01", token="t" * 43, agent_version="0.1.0", hostname="pc", os="Linux"),
    p.Heartbeat(seq=3, sent_at=NOW),
    p.Status(state="ready", camera=True, microphone=False, detail="ok"),
    p.LinkReport(step_s=60, probes=20, rtt_ms_median=2.5, jitter_ms=0.3, loss_pct=0.0, tmax_ms=1000, measured_at=NOW),
    p.Error(code="bad", message="m", ref="r"),
    p.SnmpReport(state="ok", if_index=2, oper_status=1, high_speed_mbps=1000, sys_uptime=12345,
                 in_bps=1.5e6, out_bps=2e5, interval_s=60, events=["counters_reset"], measured_at=NOW),
    p.SelfTestReport(ready=False, reasons=["ไม่พบกล้อง"], checks=[{"name": "camera", "ok": False}],
                     trigger="clerk", measured_at=NOW),
    p.ClerkRequest(action="join", sent_at=NOW),
    p.MediaHealth(conference_id=7, state="stalled", stalled_s=2.4, video_frames=310),
    p.FloorRequest(action="request", priority=3, conference_id=4),
    p.IdentityReport(conference_id=7, people=[p.PersonReport(name="นายสมชาย ใจดี", position="นายอำเภอ"),
                                              p.PersonReport(name="นางสาวมาลี ศรีสุข")]),
    p.RollCallReply(conference_id=7, roll_call_id=2),
    p.VoteReport(conference_id=7, poll_id=3, option=1, person="นายสมชาย ใจดี"),
    p.JoinCodeReport(conference_id=7, action="verify", code="123456"),
    *[p.Ack(id=f"a{i}", result=reply) for i, reply in enumerate(REPLY_SAMPLES)],
    p.Ack(id="refused", ok=False, detail="no camera"),
]
HUB_SAMPLES: list[BaseModel] = [
    p.Welcome(site="UDN01", name_th="เมืองอุดรธานี", name_en="Mueang", heartbeat_s=5, report_s=10,
              hub_version="0.1.0", server_time=NOW),
    p.HeartbeatAck(seq=1, echo_sent_at=1.5),
    *[p.Command.wrap(command, sent_at=NOW) for command in COMMAND_SAMPLES],
    p.UpdateRequired(min_version="0.2.0", your_version="0.1.0", message_th="อัปเดต", message_en="update"),
    p.Error(code="x", message="y", fatal=True),
]


def _members(union: typing.Any) -> list[type[BaseModel]]:
    return list(typing.get_args(typing.get_args(union)[0]))


@pytest.mark.parametrize("message", AGENT_SAMPLES, ids=lambda m: f"{m.type}")
def test_agent_messages_round_trip(message: BaseModel) -> None:
    assert p.decode_from_agent(p.encode(message), max_bytes=LIMIT) == message


@pytest.mark.parametrize("message", HUB_SAMPLES, ids=lambda m: f"{m.type}")
def test_hub_messages_round_trip(message: BaseModel) -> None:
    assert p.decode_from_hub(p.encode(message), max_bytes=LIMIT) == message


def test_every_type_has_a_round_trip_sample() -> None:
    assert {m.type for m in AGENT_SAMPLES} == p.AGENT_MESSAGE_TYPES  # type: ignore[attr-defined]
    assert {m.type for m in HUB_SAMPLES} == p.HUB_MESSAGE_TYPES  # type: ignore[attr-defined]
    assert {c.type for c in COMMAND_SAMPLES} == p.COMMAND_TYPES
    assert {r.type for r in REPLY_SAMPLES} == p.REPLY_TYPES  # type: ignore[attr-defined]


def test_every_command_names_a_reply_of_the_union() -> None:
    replies = set(_members(p.AnyReply))
    for command in _members(p.AnyCommand):
        assert command.reply_type() in replies, command.__name__  # type: ignore[attr-defined]


def test_a_command_outside_the_union_cannot_be_sent() -> None:
    class Teleport(p.HubCommand[p.Done]):
        type: typing.Literal["teleport"] = "teleport"

    with pytest.raises(ValueError):
        p.Command.wrap(Teleport(), sent_at=NOW)


def test_wire_mirrors_of_agent_types_have_their_fields() -> None:
    """RouterTarget and LinkThresholds carry exactly what the agent's own types hold."""
    assert set(p.RouterTarget.model_fields) == {f.name for f in fields(SnmpTarget)}
    assert set(p.LinkThresholds.model_fields) == {f.name for f in fields(Thresholds)}


def test_a_command_body_that_does_not_validate_keeps_its_id() -> None:
    frame = json.dumps({"type": "command", "id": "c1", "sent_at": NOW,
                        "command": {"type": "join", "conference_id": "seven"}})
    with pytest.raises(p.ProtocolError) as info:
        p.decode_from_hub(frame, max_bytes=LIMIT)
    assert (info.value.code, info.value.kind, info.value.ref) == ("invalid", "command", "c1")
    assert "conference_id" in info.value.message


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
        ('{"type": "ack", "id": "a", "result": {"type": "pong"}}', "invalid"),  # a reply missing its field
        ('{"type": "floor", "action": "grant"}', "invalid"),  # a district cannot grant itself
        ('{"type": "clerk_request", "action": "floor_request", "sent_at": 1}', "invalid"),  # one floor message
        ("x" * (LIMIT + 1), "too_large"),
    ],
)
def test_malformed_frames_are_named(frame: str | bytes, code: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode_from_agent(frame, max_bytes=LIMIT)
    assert info.value.code == code
    assert info.value.to_message().code == code


def test_invalid_field_is_named_in_the_message() -> None:
    frame = json.dumps({"type": "link_report", "step_s": 10, "probes": 5, "loss_pct": 140, "measured_at": 1})
    with pytest.raises(p.ProtocolError) as info:
        p.decode_from_agent(frame, max_bytes=LIMIT)
    assert "loss_pct" in info.value.message


def test_the_frame_limit_is_the_callers() -> None:
    """A receiver with a larger limit (the hub's settings.max_frame_bytes) takes larger frames."""
    big = p.SelfTestReport(ready=True, checks=[{"detail": "x" * 5000} for _ in range(20)], measured_at=NOW)
    frame = p.encode(big)
    assert len(frame) > p.DEFAULT_MAX_FRAME_BYTES
    with pytest.raises(p.ProtocolError, match="exceeds"):
        p.decode_from_agent(frame, max_bytes=p.DEFAULT_MAX_FRAME_BYTES)
    assert p.decode_from_agent(frame, max_bytes=4 * p.DEFAULT_MAX_FRAME_BYTES) == big
