"""Bad input to the media worker: clear errors, and the conference goes on."""

from __future__ import annotations

import re

import pytest
from aiortc import RTCPeerConnection, RTCRtpSender

from hub.conferences.conference import Conference
from hub.media import channel
from hub.media.client import MediaWorkerError
from hub.media.compositor import SLATE_BG
from site_agent.media.endpoint import Profile, ToneSource
from tests.hub.media.mediakit import Rig, close_to, colour_at, mismatches, tile_centre, wait_for


async def _vp8_only_offer() -> str:
    pc = RTCPeerConnection()
    from site_agent.media.endpoint import SyntheticCamera

    tr = pc.addTransceiver(SyntheticCamera("x", Profile(64, 36, 5)), direction="sendrecv")
    tr.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                            if c.mimeType == "video/VP8"])
    pc.addTransceiver(ToneSource(), direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


@pytest.mark.slow
async def test_bad_offers_and_4k_leave_the_conference_running(rig: Rig) -> None:
    conf = Conference(id=6, title="t", province="UDN00", participants=["UDN00", "UDN01", "UDN02"])
    conf.set_layout("2x2", "op")
    await rig.scene(conf)
    watcher = await rig.join("UDN00")
    assert await wait_for(lambda: watcher.last_video is not None, 5)

    with pytest.raises(MediaWorkerError, match="malformed SDP offer"):
        await rig.worker.request(channel.Offer(site="UDN01", sdp="hello, I am not SDP"))
    with pytest.raises(MediaWorkerError, match="malformed SDP offer"):
        await rig.worker.request(channel.Offer(site="UDN01", sdp="v=0\r\nm=video 9 garbage\r\n"))
    with pytest.raises(MediaWorkerError, match="expected an SDP offer"):
        await rig.worker.request(channel.Offer(site="UDN01", sdp="v=0", sdp_type="answer"))
    with pytest.raises(MediaWorkerError, match=re.escape("H.264 only, the site offered VP8")):
        await rig.worker.request(channel.Offer(site="UDN01", sdp=await _vp8_only_offer()))
    # Lines that are not requests (an unknown op, garbage) are refused by the worker, which goes on.
    assert rig.worker.proc is not None and rig.worker.proc.stdin is not None
    rig.worker.proc.stdin.write(b'{"id": 9001, "op": {"type": "dance"}}\nnot json at all\n')
    assert (await rig.worker.request(channel.Ping())).pid == rig.worker.pid

    # a district whose camera sends 4K: refused with a clear error, shown as a slate
    await rig.join("UDN02", profile=Profile(3840, 2160, 2))
    assert await wait_for(
        lambda: any(e.get("event") == "site_error" and e.get("site") == "UDN02" for e in rig.events), 10
    ), "no error reported for the 4K site"
    err = next(e for e in rig.events if e.get("event") == "site_error")
    assert err["code"] == "too_large" and "3840x2160" in err["message"]

    # and the conference goes on: the others are still composed and delivered
    await rig.join("UDN01")

    def wrong() -> list[str]:
        assert watcher.last_video is not None
        return [m for m in mismatches(watcher.last_video, conf) if not m.startswith("UDN02")]

    assert await wait_for(lambda: not wrong(), 5), wrong()
    assert watcher.last_video is not None
    tile = conf.render_state()["tiles"][2]
    assert tile["site"] == "UDN02"
    x, y = tile_centre(tile)
    assert close_to(colour_at(watcher.last_video, x, y + 30), SLATE_BG, tol=25)  # below the slate text
    frames = watcher.endpoint.video_frames
    assert await wait_for(lambda: watcher.endpoint.video_frames > frames + 10, 3)
    stats = await rig.worker.request(channel.GetStats())
    assert stats.sites["UDN02"].rejected >= 1
    assert stats.sites["UDN01"].frames_in > 0
