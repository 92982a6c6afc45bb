"""Hub ↔ agent control protocol: every message that crosses the agent WebSocket.

One module, imported by both sides, so the two can never disagree about a
field. Messages are JSON objects with a ``type`` discriminator and are
validated on arrival; anything that does not validate becomes a
:class:`ProtocolError` that the receiver answers with an :class:`Error`
message instead of dropping the connection.

Versioning: ``PROTOCOL_VERSION`` is bumped only for incompatible changes.
New optional fields and new message types are compatible: the hub tells an
older agent ``unknown_type`` rather than closing on it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
# Big enough for any control message (a link report, an SDP offer); small
# enough that a misbehaving agent cannot make the hub buffer megabytes.
MAX_FRAME_BYTES = 64 * 1024

SiteCode = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,31}$")]


class _Message(BaseModel):
    # Unknown fields are refused: a typo in a field name must not pass silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- agent → hub -----------------------------------------------------------


class Hello(_Message):
    """First message on every connection: who the agent is, and its credential."""

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    site: SiteCode
    token: str = Field(min_length=16, max_length=256)
    agent_version: str = Field(min_length=1, max_length=32)
    hostname: str = Field(default="", max_length=255)
    os: str = Field(default="", max_length=64)
    capabilities: list[str] = Field(default_factory=list, max_length=32)


class Heartbeat(_Message):
    type: Literal["heartbeat"] = "heartbeat"
    seq: int = Field(ge=0)
    sent_at: float  # agent wall clock, echoed back for a control-channel RTT


class Status(_Message):
    """The agent's own state: devices and whether it is in a briefing."""

    type: Literal["status"] = "status"
    state: Literal["idle", "ready", "degraded", "problem", "in_conference"] = "idle"
    camera: bool | None = None
    microphone: bool | None = None
    speaker: bool | None = None
    detail: str = Field(default="", max_length=500)


class LinkReport(_Message):
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


class SnmpReport(_Message):
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


class SelfTestReport(_Message):
    """A self-test the clerk ran (or the agent ran at start), pushed unprompted.

    Same shape as the ``Ack.result`` of the ``selftest`` command; the hub's
    readiness board takes either.
    """

    type: Literal["selftest_report"] = "selftest_report"
    ready: bool
    reasons: list[str] = Field(default_factory=list, max_length=20)
    checks: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    trigger: Literal["clerk", "startup", "hub"] = "clerk"
    measured_at: float


class ClerkRequest(_Message):
    """Something the clerk asked for from the tray or the clerk window."""

    type: Literal["clerk_request"] = "clerk_request"
    action: Literal["join", "leave", "floor_request", "floor_release"]
    sent_at: float


class FloorRequest(_Message):
    """A district asks for the floor (BFCP FloorRequest) or gives it back (FloorRelease).

    Releasing before the chair granted it cancels the request (issue 3).
    """

    type: Literal["floor"] = "floor"
    action: Literal["request", "release"]
    priority: int = Field(default=2, ge=0, le=4)
    conference_id: int | None = None


class Ack(_Message):
    """Answer to a :class:`Command`."""

    type: Literal["ack"] = "ack"
    id: str = Field(min_length=1, max_length=64)
    ok: bool = True
    detail: str = Field(default="", max_length=2000)
    result: dict[str, Any] = Field(default_factory=dict)


# --- hub → agent -----------------------------------------------------------


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    site: SiteCode
    name_th: str
    name_en: str
    heartbeat_s: float = Field(gt=0)
    report_s: float = Field(gt=0)
    hub_version: str
    server_time: float


class HeartbeatAck(_Message):
    type: Literal["heartbeat_ack"] = "heartbeat_ack"
    seq: int = Field(ge=0)
    echo_sent_at: float


class Command(_Message):
    """Something the hub asks the agent to do; answered with an :class:`Ack`."""

    type: Literal["command"] = "command"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)
    sent_at: float = Field(default_factory=time.time)


class UpdateRequired(_Message):
    """The agent is too old to talk to this hub; the connection closes after this."""

    type: Literal["update_required"] = "update_required"
    min_version: str
    your_version: str
    message_th: str
    message_en: str
    download_url: str = ""


# --- both directions ---------------------------------------------------------


class Error(_Message):
    """A refusal or a complaint; ``ref`` names the message it answers, if known."""

    type: Literal["error"] = "error"
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=2000)
    ref: str | None = None
    fatal: bool = False


AgentMessage = Annotated[
    Hello | Heartbeat | Status | LinkReport | SnmpReport | SelfTestReport | ClerkRequest | FloorRequest | Ack
    | Error,
    Field(discriminator="type"),
]
HubMessage = Annotated[
    Welcome | HeartbeatAck | Command | UpdateRequired | Error,
    Field(discriminator="type"),
]
AnyMessage = Annotated[
    Hello
    | Heartbeat
    | Status
    | LinkReport
    | SnmpReport
    | SelfTestReport
    | ClerkRequest
    | FloorRequest
    | Ack
    | Welcome
    | HeartbeatAck
    | Command
    | UpdateRequired
    | Error,
    Field(discriminator="type"),
]

_agent_adapter: TypeAdapter[AgentMessage] = TypeAdapter(AgentMessage)
_hub_adapter: TypeAdapter[HubMessage] = TypeAdapter(HubMessage)
_any_adapter: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)



def _types_of(union: Any) -> frozenset[str]:
    members = get_args(get_args(union)[0])
    return frozenset(m.model_fields["type"].default for m in members)


# Derived from the unions so that adding a message means editing one place.
AGENT_MESSAGE_TYPES = _types_of(AgentMessage)
HUB_MESSAGE_TYPES = _types_of(HubMessage)


class ProtocolError(Exception):
    """A frame that is not a valid message. ``code`` is machine-readable."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref

    def to_message(self) -> Error:
        return Error(code=self.code, message=self.message, ref=self.ref)


def encode(message: BaseModel) -> str:
    return message.model_dump_json()


def _decode(frame: str | bytes, adapter: TypeAdapter[Any], known: frozenset[str]) -> Any:
    if isinstance(frame, bytes | bytearray):
        if len(frame) > MAX_FRAME_BYTES:
            raise ProtocolError("too_large", f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("bad_encoding", "frame is not UTF-8") from exc
    if len(frame.encode("utf-8")) > MAX_FRAME_BYTES:
        raise ProtocolError("too_large", f"frame exceeds {MAX_FRAME_BYTES} bytes")
    try:
        raw = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "a message needs a string 'type'")
    if kind not in known:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}", ref=kind)
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or kind
        raise ProtocolError(
            "invalid", f"{kind}: {where}: {first['msg']}", ref=str(raw.get("id") or kind)
        ) from exc


def decode_from_agent(frame: str | bytes) -> AgentMessage:
    """Parse a frame the hub received. Raises :class:`ProtocolError`."""
    result: AgentMessage = _decode(frame, _agent_adapter, AGENT_MESSAGE_TYPES)
    return result


def decode_from_hub(frame: str | bytes) -> HubMessage:
    """Parse a frame the agent received. Raises :class:`ProtocolError`."""
    result: HubMessage = _decode(frame, _hub_adapter, HUB_MESSAGE_TYPES)
    return result


def decode_any(frame: str | bytes) -> AnyMessage:
    result: AnyMessage = _decode(
        frame, _any_adapter, AGENT_MESSAGE_TYPES | HUB_MESSAGE_TYPES
    )
    return result


# WebSocket close codes (4000–4999 are the application's own).
CLOSE_AUTH_FAILED = 4401
CLOSE_UPDATE_REQUIRED = 4426
CLOSE_REPLACED = 4409
CLOSE_FLOOD = 4429
CLOSE_HUB_SHUTDOWN = 4503
