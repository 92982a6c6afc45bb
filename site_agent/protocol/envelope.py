"""The wire's envelope: the base message, encoding and decoding, errors, limits, close codes.

Messages are JSON objects with a ``type`` discriminator, validated on
arrival; a frame that does not validate becomes a :class:`ProtocolError`
that the receiver answers with an :class:`Error` message instead of
dropping the connection.

Pure: no clock, no I/O. Times are passed in by the sender; the frame limit
by the receiver (the hub's ``settings.max_frame_bytes``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
# Big enough for any control message (a link report, an SDP offer); small
# enough that a misbehaving peer cannot make the receiver buffer megabytes.
# Only a default: every decoder takes the receiver's own limit.
DEFAULT_MAX_FRAME_BYTES = 64 * 1024

SiteCode = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,31}$")]


class Message(BaseModel):
    # Unknown fields are refused: a typo in a field name must not pass silently. Floats are
    # finite: an agent's inf/nan would reach the control room's JSON as Infinity/NaN, which
    # browsers' JSON.parse refuses.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Error(Message):
    """A refusal or a complaint (both directions); ``ref`` names the message it answers, if known."""

    type: Literal["error"] = "error"
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=2000)
    ref: str | None = None
    fatal: bool = False


class ProtocolError(Exception):
    """A frame that is not a valid message. ``code`` is machine-readable.

    ``kind`` is the frame's ``type`` when it had one, ``ref`` the id (or type)
    of what it answers: a receiver can still answer a command it could not read.
    """

    def __init__(self, code: str, message: str, ref: str | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.kind = kind

    def to_message(self) -> Error:
        return Error(code=self.code, message=self.message, ref=self.ref)


def encode(message: BaseModel) -> str:
    return message.model_dump_json()


def types_of(union: Any) -> frozenset[str]:
    """The ``type`` literals of an ``Annotated[A | B | ..., Field(discriminator="type")]`` union."""
    members = get_args(get_args(union)[0])
    return frozenset(m.model_fields["type"].default for m in members)


def _where(exc: ValidationError, kind: str) -> str:
    first = exc.errors()[0]
    # loc[0] is the union's tag; the rest is the path inside the message.
    where = ".".join(str(p) for p in first["loc"][1:]) or kind
    return f"{kind}: {where}: {first['msg']}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode(frame: str | bytes, adapter: TypeAdapter[Any], known: frozenset[str], max_bytes: int) -> Any:
    """Parse and validate one frame against ``adapter``; raises :class:`ProtocolError`.

    Every bad frame becomes a ProtocolError, whatever the parser raised: nesting deep
    enough for ``RecursionError``, an integer literal over Python's 4,300 digits
    (``ValueError``), ``NaN`` / ``Infinity``.
    """
    if isinstance(frame, bytes | bytearray):
        if len(frame) > max_bytes:
            raise ProtocolError("too_large", f"frame of {len(frame)} bytes exceeds {max_bytes}")
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("bad_encoding", "frame is not UTF-8") from exc
    if len(frame.encode("utf-8")) > max_bytes:
        raise ProtocolError("too_large", f"frame exceeds {max_bytes} bytes")
    try:
        raw = json.loads(frame, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc.msg} at position {exc.pos}") from exc
    except RecursionError as exc:
        raise ProtocolError("bad_json", "not JSON we read: nested too deeply") from exc
    except ValueError as exc:
        raise ProtocolError("bad_json", f"not JSON we read: {str(exc)[:200]}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "a message needs a string 'type'")
    if kind not in known:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}", ref=kind, kind=kind)
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        raise ProtocolError("invalid", _where(exc, kind), ref=str(raw.get("id") or kind), kind=kind) from exc


# WebSocket close codes (4000–4999 are the application's own).
CLOSE_AUTH_FAILED = 4401
CLOSE_UPDATE_REQUIRED = 4426
CLOSE_REPLACED = 4409
CLOSE_FLOOD = 4429
CLOSE_HUB_SHUTDOWN = 4503
