"""The control process ↔ media worker pipe: every line is one of these models (JSON lines).

    → {"id": 3, "op": {"type": "offer", "site": "UDN05", "sdp": "v=0..."}}
    ← {"type": "reply", "id": 3, "ok": true, "result": {"type": "sdp_answer", "sdp": "..."}}
    ← {"type": "levels", "levels": {"UDN05": -23.5}, "loudest": "UDN05"}

Both ends validate what they read (:func:`decode_request` in the worker,
:func:`decode_output` in :class:`hub.media.client.MediaWorker`); an op and
its result are paired by type (``Op[R]``), so the client's ``request``
returns the op's own result type.
"""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# Tiles are placed on a 1280×720 canvas and scaled to the program size by the compositor.
CANVAS_W = 1280
CANVAS_H = 720
CONTENT = "@content"
VIEWER_PREFIX = "viewer-"  # a control-room preview: receives the program, sends nothing  # the slot of the presentation layout that shows content, not a site


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- results -----------------------------------------------------------------------


class Result(_Line):
    pass


class Done(Result):
    type: Literal["done"] = "done"


class SdpAnswer(Result):
    type: Literal["sdp_answer"] = "sdp_answer"
    sdp: str = Field(min_length=1)
    sdp_type: Literal["answer"] = "answer"


class SiteStats(_Line):
    state: str
    frames_in: int
    audio_in: int
    size: list[int] | None = None
    rejected: int = 0
    video_queue: int = 0
    video_dropped: int = 0
    # since the peer connected (or the last ``GetStats(reset=True)``): the longest time
    # without a new picture, 20 ms audio chunks that never reached the mix, holes skipped
    max_gap_s: float = 0.0
    audio_missing: int = 0
    video_skips: int = 0
    receiving: bool = False
    nacked: dict[str, int] = Field(default_factory=dict)  # kind → packets asked for again (NACK)
    decoded: dict[str, int] = Field(default_factory=dict)  # kind → frames its decoder lane gave (hub.media.decoding)


class Stats(Result):
    type: Literal["stats"] = "stats"
    frames_out: int
    fps_out: float
    encode_wall_s: float
    render_wall_s: float
    keyframes: int
    keyframe_requests: int
    program_kbps: int = 0  # the program encoder's bitrate now (lower while senders fall behind)
    bitrate_steps_down: int = 0  # times hub.media.governor lowered it
    process_cpu_s: float
    sites: dict[str, SiteStats] = Field(default_factory=dict)
    # lane name → streams it decodes (hub.media.decoding: a few threads for every site)
    decoder_lanes: dict[str, int] = Field(default_factory=dict)


class Pid(Result):
    type: Literal["pid"] = "pid"
    pid: int


class RecordingInfo(Result):
    """A recording in the worker (hub.media.recorder): running, or why it stopped."""

    type: Literal["recording"] = "recording"
    recording_id: int | None = None
    active: bool
    reason: str = ""  # stopped | disk_full | write_error | worker_stopped
    error: str = ""
    started: bool = False  # the first keyframe is in the file
    video_packets: int = 0
    audio_s: float = 0.0
    duration_s: float = 0.0
    dropped: int = 0
    silence_s: float = 0.0  # audio filled in where the mixer's clock fell behind
    cpu_s: float = 0.0  # the recorder thread's own CPU time
    mp4: str = ""


AnyResult = Annotated[Done | SdpAnswer | Stats | Pid | RecordingInfo, Field(discriminator="type")]
R = TypeVar("R", bound=Result)

# --- ops (control → worker) ----------------------------------------------------------


class Op(_Line, Generic[R]):
    type: str  # each op narrows it to its own Literal: the union's tag

    @classmethod
    def result_type(cls) -> builtins.type[Result]:
        for klass in cls.__mro__:
            meta = getattr(klass, "__pydantic_generic_metadata__", None)
            if meta and meta["origin"] is Op and meta["args"]:
                result: builtins.type[Result] = meta["args"][0]
                return result
        raise TypeError(f"{cls.__name__} does not name its result type")


class SceneTile(_Line):
    """hub.conferences.layout.Tile.to_dict, in 1280×720 units."""

    x: int
    y: int
    w: int
    h: int
    site: str | None = None
    role: str
    holder: bool = False


class Scene(Op[Done]):
    """What to draw and mix (hub.conferences.conference.Conference.render_state)."""

    type: Literal["scene"] = "scene"
    conference_id: int
    layout: str
    tiles: list[SceneTile]
    audible: list[str] = Field(default_factory=list)
    participants: list[str] = Field(default_factory=list)
    names: dict[str, str] = Field(default_factory=dict)


class Offer(Op[SdpAnswer]):
    """A site's (or a control-room viewer's) SDP offer."""

    type: Literal["offer"] = "offer"
    site: str = Field(min_length=1, max_length=64)
    sdp: str
    sdp_type: str = "offer"  # checked by the MCU, which names what it got instead


class Leave(Op[Done]):
    type: Literal["leave"] = "leave"
    site: str = Field(min_length=1, max_length=64)


class Keyframe(Op[Done]):
    type: Literal["keyframe"] = "keyframe"


class GetStats(Op[Stats]):
    type: Literal["stats"] = "stats"
    reset: bool = False  # start the per-site gap and loss figures again after this answer


class Ping(Op[Pid]):
    type: Literal["ping"] = "ping"


class Stop(Op[Done]):
    type: Literal["stop"] = "stop"


# --- content (issue 14, the content room): the content tile's picture and the clip's play head ---


class ContentClip(_Line):
    """A clip's play head: ``position_s`` was true at ``at`` (``time.monotonic()``, shared by the processes)."""

    path: str = Field(min_length=1, max_length=4096)
    duration_s: float = Field(ge=0)
    position_s: float = Field(ge=0)
    at: float
    playing: bool


class ContentShow(Op[Done]):
    """What the content tile shows: a page PNG (``image``), a clip, a district's screen, or nothing.

    ``keyframe``: a new picture (show, page change): the encoder starts a keyframe with it.
    """

    type: Literal["content"] = "content"
    conference_id: int
    version: int = Field(ge=0)
    image: str | None = Field(None, min_length=1, max_length=4096)
    clip: ContentClip | None = None
    keyframe: bool = False
    # a district's live shared screen (its second video stream, hub.media.screen): the site code
    screen: str | None = Field(None, min_length=1, max_length=64)


class StartRecording(Op[RecordingInfo]):
    """Record the program (its own H.264 packets) and the full mix to this MP4 (issue 14; the hub makes the MP3)."""

    type: Literal["start_recording"] = "start_recording"
    recording_id: int
    mp4: str = Field(min_length=1, max_length=4096)
    min_free_bytes: int = Field(0, ge=0)  # below this free space the recording stops by itself


class StopRecording(Op[RecordingInfo]):
    type: Literal["stop_recording"] = "stop_recording"
    recording_id: int | None = None


class RecordingStatus(Op[RecordingInfo]):
    type: Literal["recording_status"] = "recording_status"


# --- the poll results card (issue 16, hub.media.card) ------------------------------------------


class PollCard(Op[Done]):
    """Show a poll's results over the program (``show``), or take the card down."""

    type: Literal["poll_card"] = "poll_card"
    show: bool
    poll_id: int | None = None
    question: str = Field(default="", max_length=500)
    options: list[str] = Field(default_factory=list, max_length=10)
    counts: list[int] = Field(default_factory=list, max_length=10)
    voters: int = Field(default=0, ge=0)
    ballot: Literal["open", "secret"] = "open"


AnyOp = Annotated[Scene | Offer | Leave | Keyframe | GetStats | Ping | Stop
                  | StartRecording | StopRecording | RecordingStatus
                  | ContentShow | PollCard, Field(discriminator="type")]


class Request(_Line):
    id: int
    op: AnyOp


# --- worker → control: replies and events ----------------------------------------------


class Reply(_Line):
    type: Literal["reply"] = "reply"
    id: int | None
    ok: bool
    error: str = ""
    result: AnyResult | None = None


class Ready(_Line):
    type: Literal["ready"] = "ready"
    pid: int


class Levels(_Line):
    type: Literal["levels"] = "levels"
    levels: dict[str, float]
    loudest: str | None = None


class FirstVideo(_Line):
    type: Literal["first_video"] = "first_video"
    site: str
    width: int
    height: int


class SiteError(_Line):
    type: Literal["site_error"] = "site_error"
    site: str
    code: str
    message: str


class SiteState(_Line):
    type: Literal["site_state"] = "site_state"
    site: str
    state: str


class SitePicture(_Line):
    """A site's picture started or stopped arriving (frames decoded, not what was negotiated).

    ``receiving`` False: connected, but no new picture for ``age_s`` (> the stall limit).
    """

    type: Literal["site_picture"] = "site_picture"
    site: str
    receiving: bool
    age_s: float = 0.0


class WorkerError(_Line):
    """The worker could not read a line it was sent."""

    type: Literal["worker_error"] = "worker_error"
    message: str


Event = Levels | FirstVideo | SiteError | SiteState | SitePicture | WorkerError
AnyOutput = Annotated[Reply | Ready | Levels | FirstVideo | SiteError | SiteState | SitePicture | WorkerError,
                      Field(discriminator="type")]

_request_adapter: TypeAdapter[Request] = TypeAdapter(Request)
_output_adapter: TypeAdapter[AnyOutput] = TypeAdapter(AnyOutput)


def encode(line: BaseModel) -> bytes:
    return line.model_dump_json().encode("utf-8") + b"\n"


def decode_request(line: bytes | str) -> Request:
    """A line the worker read; raises pydantic.ValidationError."""
    return _request_adapter.validate_json(line)


def decode_output(line: bytes | str) -> AnyOutput:
    """A line the control process read; raises pydantic.ValidationError."""
    result: AnyOutput = _output_adapter.validate_json(line)
    return result


def event_dict(event: Event) -> dict[str, Any]:
    """An event as the control room's live feed publishes it (``{"event": type, ...}``)."""
    data = event.model_dump(exclude={"type"})
    return {"event": event.type, **data}
