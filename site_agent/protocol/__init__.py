"""Hub ↔ agent control protocol: every message that crosses the agent WebSocket.

One package, imported by both sides, so the two can never disagree about a
field: :mod:`.envelope` (base message, encode/decode, errors, limits, close
codes), :mod:`.reports` (agent → hub), :mod:`.commands` (hub → agent commands
and their typed replies). Pure: no clock or I/O; the sender passes times in,
the receiver its frame limit.

Versioning: ``PROTOCOL_VERSION`` is bumped only for incompatible changes.
New message types are compatible: the hub tells an older agent
``unknown_type`` rather than closing on it, and an agent answers a command
it does not know with ``Ack(ok=False)``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from site_agent.protocol.commands import (
    COMMAND_TYPES,
    HUB_MESSAGE_TYPES,
    REPLY_TYPES,
    Ack,
    AgentState,
    AnyCommand,
    AnyReply,
    BriefingInfo,
    ClerkState,
    ClerkStateApplied,
    Command,
    ConferenceState,
    ConfigureLinkHealth,
    Done,
    FloorStatus,
    FloorView,
    GetStatus,
    HeartbeatAck,
    HubCommand,
    HubMessage,
    IdentityPrompt,
    JoinConference,
    JoinRefused,
    LeaveConference,
    LinkHealthConfigured,
    LinkLevel,
    LinkThresholds,
    LogsSent,
    MediaAnswer,
    MediaConnection,
    MediaCounters,
    MediaOffer,
    MediaProfile,
    MediaStatus,
    MeetingAnswer,
    PersonWire,
    Ping,
    PollClosed,
    PollOpen,
    Pong,
    ProfileApplied,
    Reminder,
    Reply,
    RollCallStart,
    RouterTarget,
    SelfTest,
    SelfTestCheck,
    SelfTestResult,
    SendLogs,
    SendProfile,
    UpdateCheck,
    UpdateOutcome,
    UpdateRequired,
    Welcome,
    decode_from_hub,
    parse_command,
)
from site_agent.protocol.envelope import (
    CLOSE_AUTH_FAILED,
    CLOSE_FLOOD,
    CLOSE_HUB_SHUTDOWN,
    CLOSE_REPLACED,
    CLOSE_UPDATE_REQUIRED,
    DEFAULT_MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Error,
    Message,
    ProtocolError,
    SiteCode,
    decode,
    encode,
    types_of,
)
from site_agent.protocol.reports import (
    AGENT_MESSAGE_TYPES,
    AgentMessage,
    ClerkRequest,
    FloorRequest,
    Heartbeat,
    Hello,
    IdentityReport,
    JoinCodeReport,
    LinkReport,
    MediaHealth,
    PersonReport,
    RollCallReply,
    SelfTestReport,
    SnmpReport,
    Status,
    VoteReport,
    decode_from_agent,
)

AnyMessage = Annotated[
    Hello | Heartbeat | Status | LinkReport | SnmpReport | SelfTestReport | ClerkRequest | MediaHealth
    | FloorRequest | IdentityReport | RollCallReply | VoteReport | JoinCodeReport | Ack | Welcome | HeartbeatAck | Command | UpdateRequired | Error,
    Field(discriminator="type"),
]
_any_adapter: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)


def decode_any(frame: str | bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> AnyMessage:
    """Either direction (diagnostics and tests)."""
    result: AnyMessage = decode(frame, _any_adapter, AGENT_MESSAGE_TYPES | HUB_MESSAGE_TYPES, max_bytes)
    return result


__all__ = [
    "AGENT_MESSAGE_TYPES", "CLOSE_AUTH_FAILED", "CLOSE_FLOOD", "CLOSE_HUB_SHUTDOWN", "CLOSE_REPLACED",
    "CLOSE_UPDATE_REQUIRED", "COMMAND_TYPES", "DEFAULT_MAX_FRAME_BYTES", "HUB_MESSAGE_TYPES", "PROTOCOL_VERSION",
    "REPLY_TYPES", "Ack", "AgentMessage", "AgentState", "AnyCommand", "AnyMessage", "AnyReply", "BriefingInfo",
    "ClerkRequest", "ClerkState", "ClerkStateApplied", "Command", "ConferenceState", "ConfigureLinkHealth", "Done",
    "Error", "FloorRequest", "FloorStatus", "FloorView", "GetStatus", "Heartbeat", "HeartbeatAck", "Hello",
    "HubCommand", "HubMessage", "IdentityPrompt", "IdentityReport", "JoinCodeReport", "JoinConference", "JoinRefused",
    "LeaveConference", "LinkHealthConfigured", "LinkLevel", "LinkReport", "LinkThresholds", "LogsSent", "MediaAnswer",
    "MediaConnection", "MediaCounters", "MediaHealth", "MediaOffer", "MediaProfile", "MediaStatus", "MeetingAnswer",
    "Message", "PersonReport", "PersonWire", "Ping", "PollClosed", "PollOpen", "Pong", "ProfileApplied",
    "ProtocolError", "Reminder", "Reply", "RollCallReply", "RollCallStart", "RouterTarget", "SelfTest",
    "SelfTestCheck", "SelfTestReport", "SelfTestResult", "SendLogs", "SendProfile", "SiteCode", "SnmpReport",
    "Status", "UpdateCheck", "UpdateOutcome", "UpdateRequired", "VoteReport", "Welcome", "decode", "decode_any",
    "decode_from_agent", "decode_from_hub", "encode", "parse_command", "types_of",
]
