"""Agent → hub: what a district tells the province, unasked or in answer to a command."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from site_agent.protocol.commands import Ack
from site_agent.protocol.envelope import (
    PROTOCOL_VERSION,
    Error,
    Message,
    SiteCode,
    decode,
    types_of,
)


class Hello(Message):
    """First message on every connection: who the agent is, and its credential."""

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    site: SiteCode
    token: str = Field(min_length=16, max_length=256)
    agent_version: str = Field(min_length=1, max_length=32)
    hostname: str = Field(default="", max_length=255)
    os: str = Field(default="", max_length=64)
    capabilities: list[str] = Field(default_factory=list, max_length=32)


class Heartbeat(Message):
    type: Literal["heartbeat"] = "heartbeat"
    seq: int = Field(ge=0)
    sent_at: float  # agent wall clock, echoed back for a control-channel RTT


class Status(Message):
    """The agent's own state: devices and whether it is in a briefing."""

    type: Literal["status"] = "status"
    state: Literal["idle", "ready", "degraded", "problem", "in_conference"] = "idle"
    camera: bool | None = None
    microphone: bool | None = None
    speaker: bool | None = None
    detail: str = Field(default="", max_length=500)


class LinkReport(Message):
    """One measurement step of the district link, as the agent saw it."""

    type: Literal["link_report"] = "link_report"
    source: Literal["probe", "control", "webrtc"] = "probe"
    step_s: float = Field(gt=0, le=3600)
    probes: int = Field(ge=0, le=100_000)
    rtt_ms_median: float | None = Field(default=None, ge=0)
    rtt_ms_min: float | None = Field(default=None, ge=0)
    rtt_ms_max: float | None = Field(default=None, ge=0)
    jitter_ms: float | None = Field(default=None, ge=0)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    tmax_ms: float | None = Field(default=None, gt=0)
    measured_at: float


class SnmpReport(Message):
    """The district router's WAN interface as the agent's SNMP poller saw it.

    Rates are computed on the agent (site_agent.netmon.snmp.CounterTracker), which
    never turns a counter reset into a rate; ``state`` says why figures are missing.
    """

    type: Literal["snmp_report"] = "snmp_report"
    state: Literal["ok", "timeout", "auth_failed", "no_such_object", "config_error", "error"]
    detail: str = Field(default="", max_length=500)
    if_index: int = Field(ge=0)
    oper_status: int | None = Field(default=None, ge=1, le=7)
    high_speed_mbps: int | None = Field(default=None, ge=0)
    sys_uptime: int | None = Field(default=None, ge=0)
    in_bps: float | None = Field(default=None, ge=0)
    out_bps: float | None = Field(default=None, ge=0)
    interval_s: float | None = Field(default=None, gt=0)
    events: list[
        Literal["router_rebooted", "counters_reset", "counter_wrapped", "implausible"]
    ] = Field(default_factory=list, max_length=4)
    measured_at: float


class SelfTestReport(Message):
    """A self-test the clerk ran (or the agent ran at start), pushed unprompted.

    Same figures as the :class:`~site_agent.protocol.commands.SelfTestResult` reply
    of the ``selftest`` command; the hub's readiness board takes either.
    """

    type: Literal["selftest_report"] = "selftest_report"
    ready: bool
    reasons: list[str] = Field(default_factory=list, max_length=20)
    checks: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    trigger: Literal["clerk", "startup", "hub"] = "clerk"
    measured_at: float


class ClerkRequest(Message):
    """The clerk joins or leaves the call from the tray or the clerk window.

    The floor has its own message, :class:`FloorRequest`, whoever raises the hand.
    """

    type: Literal["clerk_request"] = "clerk_request"
    action: Literal["join", "leave"]
    sent_at: float


class MediaHealth(Message):
    """The agent's media path failed or stalled: it asks the hub for a fresh offer/answer (aiortc has no ICE restart).

    ``failed``: the peer connection failed or closed; ``stalled``: no program frame for
    ``stalled_s`` while the control channel works. The hub answers with a new ``join``.
    """

    type: Literal["media_health"] = "media_health"
    conference_id: int
    state: Literal["failed", "stalled"]
    stalled_s: float = Field(default=0.0, ge=0)
    video_frames: int = Field(default=0, ge=0)


class FloorRequest(Message):
    """A district asks for the floor (BFCP FloorRequest) or gives it back (FloorRelease).

    Releasing before the chair granted it cancels the request. The hub always
    answers with a :class:`~site_agent.protocol.commands.ConferenceState` whose
    ``floor`` says queued (position), granted, denied, or no briefing running.
    """

    type: Literal["floor"] = "floor"
    action: Literal["request", "release"]
    priority: int = Field(default=2, ge=0, le=4)
    conference_id: int | None = None


# --- the meeting (issue 16): the clerk's answers from the agent's window --------------------------


class PersonReport(Message):
    name: str = Field(min_length=1, max_length=200)
    position: str = Field(default="", max_length=200)


class IdentityReport(Message):
    """Who is in the district's room (several people); the hub answers with ``meeting.answer``."""

    type: Literal["identity"] = "identity"
    conference_id: int
    people: list[PersonReport] = Field(min_length=1, max_length=30)


class RollCallReply(Message):
    """The clerk confirms the site is present in a running roll call."""

    type: Literal["rollcall.answer"] = "rollcall.answer"
    conference_id: int
    roll_call_id: int


class VoteReport(Message):
    """One vote: the site's, or ``person``'s (a per-person poll). Answered with ``meeting.answer``."""

    type: Literal["vote"] = "vote"
    conference_id: int
    poll_id: int
    option: int = Field(ge=0, le=100)
    person: str | None = Field(default=None, max_length=200)


class JoinCodeReport(Message):
    """A confidential briefing's second factor: ask for the e-mailed code, or give it."""

    type: Literal["joincode"] = "joincode"
    conference_id: int
    action: Literal["request", "verify"]
    code: str = Field(default="", max_length=16)


AgentMessage = Annotated[
    Hello | Heartbeat | Status | LinkReport | SnmpReport | SelfTestReport | ClerkRequest | MediaHealth
    | FloorRequest | IdentityReport | RollCallReply | VoteReport | JoinCodeReport | Ack | Error,
    Field(discriminator="type"),
]
AGENT_MESSAGE_TYPES = types_of(AgentMessage)
_agent_adapter: TypeAdapter[AgentMessage] = TypeAdapter(AgentMessage)


def decode_from_agent(frame: str | bytes, *, max_bytes: int) -> AgentMessage:
    """Parse a frame the hub received (``max_bytes``: ``settings.max_frame_bytes``). Raises ProtocolError."""
    result: AgentMessage = decode(frame, _agent_adapter, AGENT_MESSAGE_TYPES, max_bytes)
    return result
