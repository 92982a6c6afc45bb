"""Hub → agent: the session messages, every command, and each command's typed reply.

A command travels in a :class:`Command` envelope (``id``, ``sent_at``) and is
answered with an :class:`Ack` whose ``result`` is the command's own reply
model: ``HubCommand[R]`` names ``R``, so ``AgentRegistry.send_command``
returns an ``R`` and ``AgentClient.add_command_handler`` wants a handler
returning one. Both ends validate on arrival; a field one side renames is a
mypy error or a failing round trip (tests/site_agent/protocol), never a
silent ``None``.
"""

from __future__ import annotations

import builtins
import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field, TypeAdapter

from site_agent.protocol.envelope import (
    Error,
    Message,
    SiteCode,
    decode,
    types_of,
)

# --- replies -----------------------------------------------------------------------------


class Reply(Message):
    """What a command's handler answers (``Ack.result``)."""


class Done(Reply):
    """The command was carried out; there is nothing to report."""

    type: Literal["done"] = "done"


class Pong(Reply):
    type: Literal["pong"] = "pong"
    received_at: float
    echo: float | None = None


class AgentState(Reply):
    type: Literal["agent_state"] = "agent_state"
    state: str = Field(max_length=32)
    version: str = Field(max_length=32)
    connects: int = Field(ge=0)


class MediaOffer(Reply):
    """The agent's SDP offer, the answer to :class:`JoinConference`."""

    type: Literal["media_offer"] = "media_offer"
    sdp: str = Field(min_length=1, max_length=60_000)
    sdp_type: Literal["offer"] = "offer"


class MediaConnection(Reply):
    type: Literal["media_connection"] = "media_connection"
    state: str = Field(max_length=32)  # RTCPeerConnection.connectionState


class ProfileApplied(Reply):
    type: Literal["profile_applied"] = "profile_applied"
    width: int
    height: int
    fps: int


class MediaCounters(Reply):
    type: Literal["media_counters"] = "media_counters"
    state: str = Field(max_length=32)
    video_frames: int = Field(ge=0)
    audio_frames: int = Field(ge=0)
    conference_id: int | None = None


class ClerkStateApplied(Reply):
    type: Literal["clerk_state_applied"] = "clerk_state_applied"
    applied: list[str] = Field(default_factory=list, max_length=16)


class SelfTestCheck(Message):
    """One line of a self-test (site_agent.clerk.selftest.CheckResult)."""

    key: str = Field(max_length=32)
    outcome: Literal["pass", "fail", "skip"]
    title_th: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    detail: str = Field(default="", max_length=500)
    advice_th: str = Field(default="", max_length=500)
    advice_en: str = Field(default="", max_length=500)


class SelfTestResult(Reply):
    type: Literal["selftest_result"] = "selftest_result"
    ready: bool
    reasons: list[str] = Field(default_factory=list, max_length=20)  # Thai, one per failed check
    reasons_en: list[str] = Field(default_factory=list, max_length=20)
    checks: list[SelfTestCheck] = Field(default_factory=list, max_length=20)
    started_at: float
    duration_s: float = Field(ge=0)


class UpdateOutcome(Reply):
    """What one update attempt did (site_agent.updater.Updater.check_and_apply)."""

    type: Literal["update_outcome"] = "update_outcome"
    outcome: Literal["up_to_date", "skipped_failed_before", "deferred", "rejected", "install_failed", "installing"]
    version: str = Field(default="", max_length=32)
    running: str = Field(default="", max_length=32)
    previous: str = Field(default="", max_length=32)
    reason: str = Field(default="", max_length=2000)


class LogsSent(Reply):
    """The agent posted its log bundle to ``/agent/logs`` (what the clerk's "send logs" does)."""

    type: Literal["logs_sent"] = "logs_sent"
    stored: str = Field(default="", max_length=200)  # the hub's file name for it
    bytes: int = Field(ge=0)


class LinkHealthConfigured(Reply):
    type: Literal["linkhealth_configured"] = "linkhealth_configured"
    probing: bool
    snmp: bool


AnyReply = Annotated[
    Done | Pong | AgentState | MediaOffer | MediaConnection | ProfileApplied | MediaCounters
    | ClerkStateApplied | SelfTestResult | UpdateOutcome | LinkHealthConfigured | LogsSent,
    Field(discriminator="type"),
]
REPLY_TYPES = types_of(AnyReply)

R = TypeVar("R", bound=Reply)

# --- commands -------------------------------------------------------------------------------


class HubCommand(Message, Generic[R]):
    """Something the hub asks an agent to do; ``R`` is the reply the agent answers with."""

    type: str  # each command narrows it to its own Literal: the union's tag

    @classmethod
    def reply_type(cls) -> builtins.type[Reply]:
        # The parametrised base (HubCommand[Pong]) carries R; pydantic records it.
        for klass in cls.__mro__:
            meta = getattr(klass, "__pydantic_generic_metadata__", None)
            if meta and meta["origin"] is HubCommand and meta["args"]:
                reply: builtins.type[Reply] = meta["args"][0]
                return reply
        raise TypeError(f"{cls.__name__} does not name its reply type")


class Ping(HubCommand[Pong]):
    type: Literal["ping"] = "ping"
    echo: float | None = None


class GetStatus(HubCommand[AgentState]):
    type: Literal["status"] = "status"


class MediaProfile(Message):
    """What a site is asked to send (hub.conferences.layout.SendProfile on the wire)."""

    width: int = Field(ge=16, le=4096)
    height: int = Field(ge=16, le=2304)
    fps: int = Field(ge=1, le=60)
    kbps: int = Field(ge=50, le=20_000)


class JoinConference(HubCommand[MediaOffer]):
    """Join a live conference: answer with an SDP offer sending ``send_profile``."""

    type: Literal["join"] = "join"
    conference_id: int
    title: str = Field(default="", max_length=200)
    name_th: str = Field(default="", max_length=200)
    send_profile: MediaProfile


class MediaAnswer(HubCommand[MediaConnection]):
    """The media worker's SDP answer to the agent's offer."""

    type: Literal["media_answer"] = "media_answer"
    conference_id: int
    sdp: str = Field(min_length=1, max_length=60_000)
    sdp_type: Literal["answer"] = "answer"


class SendProfile(HubCommand[ProfileApplied]):
    """The site's tile changed size: send this from now on."""

    type: Literal["send_profile"] = "send_profile"
    conference_id: int
    profile: MediaProfile


class LeaveConference(HubCommand[Done]):
    """The conference ended, or the clerk left it: stop the media."""

    type: Literal["leave"] = "leave"
    conference_id: int


class MediaStatus(HubCommand[MediaCounters]):
    type: Literal["media_status"] = "media_status"


# What the clerk's raise-hand item shows; the hub's answer to every FloorRequest.
FloorStatus = Literal["none", "pending", "queued", "granted", "denied", "released", "no_briefing"]


class FloorView(Message):
    """This site's own floor request as the hub sees it."""

    status: FloorStatus = "none"
    position: int | None = Field(default=None, ge=1)  # 1 = next to speak; set while queued
    request_id: int | None = None
    detail: str = Field(default="", max_length=500)  # why a request was refused


class ConferenceState(HubCommand[Done]):
    """Floor and microphone state for one site, pushed on every floor change and as the
    answer to each of the site's floor requests. ``conference_id`` None: no briefing is running."""

    type: Literal["conference_state"] = "conference_state"
    conference_id: int | None
    holder: str | None = None
    mic_open: bool = False
    heard: bool = False
    floor: FloorView = Field(default_factory=FloorView)


LinkLevel = Literal["unknown", "ok", "degraded", "down"]


class BriefingInfo(Message):
    title_th: str = Field(max_length=200)
    title_en: str = Field(default="", max_length=200)
    starts_at: float  # epoch seconds
    key: str = Field(default="", max_length=64)


class ClerkState(HubCommand[ClerkStateApplied]):
    """What the tray shows that only the hub knows; a field left None is left as it is."""

    type: Literal["clerk_state"] = "clerk_state"
    in_briefing: bool | None = None
    link: LinkLevel | None = None
    briefings: list[BriefingInfo] | None = Field(default=None, max_length=20)
    help_phone: str | None = Field(default=None, max_length=40)


class Reminder(HubCommand[Done]):
    """A briefing starts soon: the clerk's tray says so."""

    type: Literal["reminder"] = "reminder"
    occurrence_id: int
    title: str = Field(max_length=200)
    starts_at: float  # epoch seconds
    message_th: str = Field(default="", max_length=500)
    message_en: str = Field(default="", max_length=500)


class SelfTest(HubCommand[SelfTestResult]):
    """Run the self-test now (the T−15 readiness check names its briefing)."""

    type: Literal["selftest"] = "selftest"
    occurrence_id: int | None = None
    title: str = Field(default="", max_length=200)
    starts_at: float | None = None


class UpdateCheck(HubCommand[UpdateOutcome]):
    type: Literal["update_check"] = "update_check"


class SendLogs(HubCommand[LogsSent]):
    """Send this PC's logs to the province now (an operator's remote "send logs")."""

    type: Literal["logs.upload"] = "logs.upload"


class RouterTarget(Message):
    """The district router's SNMP target (site_agent.netmon.snmp.SnmpTarget on the wire).

    Secrets resolved on the hub travel over the authenticated control channel.
    """

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=161, ge=1, le=65535)
    version: Literal["2c", "3"] = "2c"
    if_index: int = Field(default=1, ge=0)
    community: str = Field(default="", max_length=255)
    user: str = Field(default="", max_length=255)
    auth_protocol: str = Field(default="SHA", max_length=16)
    auth_key: str = Field(default="", max_length=255)
    priv_protocol: str = Field(default="AES", max_length=16)
    priv_key: str = Field(default="", max_length=255)
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)


class LinkThresholds(Message):
    """The hub's link colour bands on the wire (values: site_agent.netmon.thresholds.Thresholds)."""

    rtt_amber_ms: float = Field(gt=0)
    rtt_red_ms: float = Field(gt=0)
    jitter_amber_ms: float = Field(gt=0)
    jitter_red_ms: float = Field(gt=0)
    loss_amber_pct: float = Field(ge=0, le=100)
    loss_red_pct: float = Field(ge=0, le=100)


class ConfigureLinkHealth(HubCommand[LinkHealthConfigured]):
    """How to probe the link to the hub and poll the router (site_agent.netmon.probe).

    Values come from the hub's settings; a field left None keeps the agent's default
    (site_agent.netmon.thresholds), so defaults are declared once.
    """

    type: Literal["linkhealth.configure"] = "linkhealth.configure"
    echo_host: str | None = Field(default=None, max_length=255)  # None: the hub's own host
    echo_port: int = Field(ge=0, le=65535)
    probes_per_step: int = Field(ge=1, le=10_000)
    step_s: float = Field(gt=0, le=3600)
    tmax_ms: float = Field(gt=0, le=60_000)
    payload_bytes: int | None = Field(default=None, ge=16, le=1400)
    snmp_interval_s: float = Field(gt=0, le=3600)
    snmp: RouterTarget | None = None
    thresholds: LinkThresholds | None = None


# --- the meeting: identities, roll calls, polls, the confidential join (issue 16) ----------------


class PersonWire(Message):
    """One person the clerk says is in the district's room."""

    name: str = Field(min_length=1, max_length=200)
    position: str = Field(default="", max_length=200)


class IdentityPrompt(HubCommand[Done]):
    """The district joined: the clerk confirms who is in the room (``people``: what is on record)."""

    type: Literal["identity.prompt"] = "identity.prompt"
    conference_id: int
    title: str = Field(default="", max_length=200)
    people: list[PersonWire] = Field(default_factory=list, max_length=30)


class RollCallStart(HubCommand[Done]):
    """The chair started a roll call: the clerk confirms the site is present before ``deadline``."""

    type: Literal["rollcall.start"] = "rollcall.start"
    conference_id: int
    roll_call_id: int
    deadline: float  # epoch seconds, the hub's clock
    seconds: float = Field(gt=0, le=3600)


class PollOpen(HubCommand[Done]):
    """A poll the district can vote in (``people``: who may vote, for a per-person poll)."""

    type: Literal["poll.open"] = "poll.open"
    conference_id: int
    poll_id: int
    question: str = Field(min_length=1, max_length=500)
    options: list[str] = Field(min_length=2, max_length=10)
    ballot: Literal["open", "secret"] = "open"
    unit: Literal["site", "person"] = "site"
    closes_at: float | None = None  # epoch seconds; None: the chair closes it
    people: list[str] = Field(default_factory=list, max_length=30)


class PollClosed(HubCommand[Done]):
    """A poll closed: its tally (the same for every site, so a secret ballot reveals nothing more)."""

    type: Literal["poll.closed"] = "poll.closed"
    conference_id: int
    poll_id: int
    counts: list[int] = Field(default_factory=list, max_length=10)


class MeetingAnswer(HubCommand[Done]):
    """The hub's answer to each of the clerk's meeting actions (identity, roll call, vote, join code)."""

    type: Literal["meeting.answer"] = "meeting.answer"
    conference_id: int | None
    action: Literal["identity", "rollcall", "vote", "joincode"]
    ok: bool
    reason: str = Field(default="", max_length=64)  # the refusal's code (hub.identity / hub.polls)
    message_th: str = Field(default="", max_length=500)
    message_en: str = Field(default="", max_length=500)
    ref: int | None = None  # the roll call or poll it answers


class JoinRefused(HubCommand[Done]):
    """The hub did not let the district into the briefing (a confidential one wants the e-mailed code)."""

    type: Literal["join.refused"] = "join.refused"
    conference_id: int
    reason: str = Field(max_length=64)
    message_th: str = Field(max_length=500)
    message_en: str = Field(max_length=500)
    second_factor: bool = False  # the clerk can ask for a code and type it


AnyCommand = Annotated[
    Ping | GetStatus | JoinConference | MediaAnswer | SendProfile | LeaveConference | MediaStatus
    | ConferenceState | ClerkState | Reminder | SelfTest | UpdateCheck | ConfigureLinkHealth | SendLogs
    | IdentityPrompt | RollCallStart | PollOpen | PollClosed | MeetingAnswer | JoinRefused,
    Field(discriminator="type"),
]
COMMAND_TYPES = types_of(AnyCommand)
_command_adapter: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)


def parse_command(raw: dict[str, Any]) -> HubCommand[Any]:
    """A command from a plain object (the operator's ``{"name", "args"}``); raises ValidationError."""
    command: HubCommand[Any] = _command_adapter.validate_python(raw)
    return command


# --- the envelope and its answer ----------------------------------------------------------------


class Command(Message):
    """A command on its way to an agent; answered with an :class:`Ack` of the same ``id``."""

    type: Literal["command"] = "command"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=64)
    sent_at: float  # hub wall clock when the frame was built (fan-out latency)
    command: AnyCommand

    @classmethod
    def wrap(cls, command: HubCommand[Any], sent_at: float) -> Command:
        """The envelope for ``command``; a command class missing from ``AnyCommand`` fails here."""
        return cls.model_validate({"sent_at": sent_at, "command": command})


class Ack(Message):
    """The agent's answer to a :class:`Command`: its reply, or why it could not."""

    type: Literal["ack"] = "ack"
    id: str = Field(min_length=1, max_length=64)
    ok: bool = True
    detail: str = Field(default="", max_length=2000)
    result: AnyReply | None = None


# --- hub → agent session messages --------------------------------------------------------------


class Welcome(Message):
    type: Literal["welcome"] = "welcome"
    site: SiteCode
    name_th: str
    name_en: str
    heartbeat_s: float = Field(gt=0)
    report_s: float = Field(gt=0)
    hub_version: str
    server_time: float


class HeartbeatAck(Message):
    type: Literal["heartbeat_ack"] = "heartbeat_ack"
    seq: int = Field(ge=0)
    echo_sent_at: float


class UpdateRequired(Message):
    """The agent is too old to talk to this hub; the connection closes after this."""

    type: Literal["update_required"] = "update_required"
    min_version: str
    your_version: str
    message_th: str
    message_en: str
    download_url: str = ""


HubMessage = Annotated[
    Welcome | HeartbeatAck | Command | UpdateRequired | Error,
    Field(discriminator="type"),
]
HUB_MESSAGE_TYPES = types_of(HubMessage)
_hub_adapter: TypeAdapter[HubMessage] = TypeAdapter(HubMessage)


def decode_from_hub(frame: str | bytes, *, max_bytes: int) -> HubMessage:
    """Parse a frame the agent received (``max_bytes``: the agent's own limit). Raises ProtocolError."""
    result: HubMessage = decode(frame, _hub_adapter, HUB_MESSAGE_TYPES, max_bytes)
    return result
