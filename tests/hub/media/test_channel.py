"""The control process ↔ media worker pipe: every line round-trips, every op names its result.

Enumerated from the unions, so a new op, result or event without a case here fails.
"""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel, ValidationError

from hub.conferences.conference import Conference
from hub.media import channel

OPS: list[channel.Op[typing.Any]] = [
    channel.Scene(conference_id=1, layout="2x2", tiles=[channel.SceneTile(x=0, y=0, w=640, h=360, site="UDN01",
                                                                          role="grid")],
                  audible=["UDN01"], participants=["UDN01"], names={"UDN01": "เมือง"}),
    channel.Offer(site="UDN01", sdp="v=0\r\n"),
    channel.Leave(site="UDN01"),
    channel.Keyframe(),
    channel.GetStats(),
    channel.Ping(),
    channel.Stop(),
    channel.StartRecording(recording_id=3, mp4="/rec/a.mp4", min_free_bytes=1 << 30),
    channel.StopRecording(recording_id=3),
    channel.RecordingStatus(),
    channel.ContentShow(conference_id=1, version=3, image="/content/pages/a/page-0001.png", keyframe=True,
                        clip=channel.ContentClip(path="/content/originals/b.mp4", duration_s=8.0, position_s=1.5,
                                                 at=1234.5, playing=True)),
    channel.PollCard(show=True, poll_id=7, question="พร้อมหรือไม่", options=["พร้อม", "ไม่พร้อม"], counts=[3, 1],
                     voters=4, ballot="secret"),
]
RESULTS: list[channel.Result] = [
    channel.Done(),
    channel.SdpAnswer(sdp="v=0\r\n"),
    channel.Stats(frames_out=10, fps_out=9.8, encode_wall_s=0.1, render_wall_s=0.2, keyframes=1,
                  keyframe_requests=2, process_cpu_s=0.5,
                  sites={"UDN01": channel.SiteStats(state="connected", frames_in=5, audio_in=50, size=[320, 180])}),
    channel.Pid(pid=42),
    channel.RecordingInfo(recording_id=3, active=False, reason="disk_full", started=True, video_packets=75,
                          audio_s=5.0, duration_s=5.0, mp4="/rec/a.mp4"),
]
OUTPUTS: list[BaseModel] = [
    *[channel.Reply(id=i, ok=True, result=r) for i, r in enumerate(RESULTS)],
    channel.Reply(id=99, ok=False, error="malformed SDP offer"),
    channel.Ready(pid=42),
    channel.Levels(levels={"UDN01": -20.5}, loudest="UDN01"),
    channel.FirstVideo(site="UDN01", width=320, height=180),
    channel.SiteError(site="UDN02", code="too_large", message="4K"),
    channel.SiteState(site="UDN01", state="connected"),
    channel.SitePicture(site="UDN01", receiving=False, age_s=2.3),
    channel.WorkerError(message="bad request line"),
]


def _members(union: typing.Any) -> list[type[BaseModel]]:
    return list(typing.get_args(typing.get_args(union)[0]))


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.type)
def test_requests_round_trip(op: channel.Op[typing.Any]) -> None:
    request = channel.Request.model_validate({"id": 7, "op": op})
    assert channel.decode_request(channel.encode(request)) == request


@pytest.mark.parametrize("line", OUTPUTS, ids=lambda o: o.type)  # type: ignore[attr-defined]
def test_outputs_round_trip(line: BaseModel) -> None:
    assert channel.decode_output(channel.encode(line)) == line


def test_every_line_type_has_a_case_and_every_op_a_result() -> None:
    assert {type(o) for o in OPS} == set(_members(channel.AnyOp))
    assert {type(r) for r in RESULTS} == set(_members(channel.AnyResult))
    assert {type(o) for o in OUTPUTS} == set(_members(channel.AnyOutput))
    for op in _members(channel.AnyOp):
        assert op.result_type() in set(_members(channel.AnyResult)), op  # type: ignore[attr-defined]


def test_the_conference_render_state_is_a_valid_scene() -> None:
    conf = Conference(id=3, title="t", province="UDN00", participants=["UDN00", "UDN01", "UDN02"])
    conf.set_layout("presentation", "op")
    scene = channel.Scene.model_validate(conf.render_state({"UDN00": "จังหวัด"}))
    assert scene.layout == "presentation" and any(t.site == channel.CONTENT for t in scene.tiles)


def test_a_bad_line_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="dance"):
        channel.decode_request('{"id": 1, "op": {"type": "dance"}}')
    with pytest.raises(ValidationError, match="site"):
        channel.decode_request('{"id": 1, "op": {"type": "offer", "sdp": "v=0"}}')
