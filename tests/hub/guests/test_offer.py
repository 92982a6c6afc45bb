"""SDP offers from a browser: checked for size and codecs, then handed to the media side
through :class:`hub.guests.media.GuestMedia`. Offers come from real aiortc peers (the SDP a
browser sends has the same shape); the media side here is a real aiortc peer answering."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from hub.guests.keys import GUESTS
from hub.guests.media import GuestPeer, MediaAnswer
from hub.guests.model import Refusal
from hub.guests.sdp import ValidatedOffer, validate_offer
from site_agent.rtc.config import rtc_configuration
from tests.conftest import HubHandle

from .conftest import Api, link_parts, series_at
from .test_join_api import SOON, _join, bilingual


async def real_offer(video: str = "sendrecv", audio: str = "sendrecv") -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction=video)
    pc.addTransceiver("audio", direction=audio)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def without(sdp: str, *needles: str) -> str:
    """The offer with the codecs whose rtpmap or fmtp line holds a needle taken out properly
    (m= line, rtpmap, fmtp, rtcp-fb and their RTX), as a browser lacking them would offer."""
    lines = sdp.split("\r\n")
    drop: set[str] = set()
    for line in lines:
        if line.startswith(("a=rtpmap:", "a=fmtp:")) and any(n in line for n in needles):
            drop.add(line.split(":", 1)[1].split(" ", 1)[0])
    for line in lines:  # RTX of a dropped codec goes too
        if line.startswith("a=fmtp:") and any(f"apt={pt}" == line.split(" ", 1)[1] for pt in drop):
            drop.add(line.split(":", 1)[1].split(" ", 1)[0])
    out = []
    for line in lines:
        if line.startswith("m="):
            head, *pts = line.split(" ")
            line = " ".join([head, *[p for p in pts if p not in drop]]) if head != "m=application" else line
        elif line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")) and line.split(":", 1)[1].split(" ", 1)[0] in drop:
            continue
        out.append(line)
    return "\r\n".join(out)


async def test_valid_offer_is_read() -> None:
    offer = validate_offer(await real_offer(), 32768)
    assert offer.video_receive_pts and offer.audio_pt and offer.video_send_codecs[0] == "VP8"
    assert offer.sends_video and offer.sends_audio
    recv = validate_offer(await real_offer("recvonly", "recvonly"), 32768)
    assert not recv.sends_video and not recv.sends_audio  # a phone without a camera still watches


async def test_offers_refused() -> None:
    sdp = await real_offer()
    cases: list[tuple[str, str, int]] = [
        (sdp + "a=x-padding:" + "x" * 40000 + "\r\n", "sdp_too_large", 413),
        (without(sdp, "profile-level-id=42e01f"), "sdp_codecs", 400),  # only Baseline, not Constrained Baseline
        (without(sdp, "H264"), "sdp_codecs", 400),
        (without(sdp, "opus"), "sdp_codecs", 400),
        ("hello", "sdp_malformed", 400),
        ("v=0\r\nthis is not sdp\r\n", "sdp_sections", 400),
        (sdp.replace("a=sendrecv", "a=sendonly"), "sdp_direction", 400),
    ]
    for text, code, status in cases:
        with pytest.raises(Refusal) as info:
            validate_offer(text, 32768)
        assert (info.value.code, info.value.status) == (code, status), (code, info.value)
        assert info.value.th and info.value.en


def with_browser_candidates(sdp: str, keep_udp: bool) -> str:
    """The offer's candidates replaced as a browser without camera permission yet writes them:
    its addresses hidden behind an mDNS name, and TCP candidates (the real UDP ones kept or not)."""
    out = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:"):
            if keep_udp:
                out.append(line)
            out.append("a=candidate:1 1 udp 2122262783 4b1e0c1a-6a55-4b37-9c4f-2f0e62c0a1b2.local 51472 typ host generation 0")
            out.append("a=candidate:2 1 tcp 1518283007 192.0.2.99 9 typ host tcptype active generation 0")
            continue
        out.append(line)
    return "\r\n".join(out)


async def test_offer_without_the_candidates_the_hub_cannot_use() -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="sendrecv")
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    udp = [line for line in sdp.split("\r\n") if line.startswith("a=candidate:")]
    assert udp and "a=end-of-candidates" in sdp

    mixed = validate_offer(with_browser_candidates(sdp, keep_udp=True), 32768).sdp
    assert ".local" not in mixed and " tcp " not in mixed
    assert [line for line in mixed.split("\r\n") if line.startswith("a=candidate:")] == udp
    assert "a=end-of-candidates" in mixed

    # Only names the hub cannot resolve: none go on, nor the end of candidates (the hub would give
    # up at once); a real answerer still connects, from the browser's checks (peer-reflexive).
    hidden = validate_offer(with_browser_candidates(sdp, keep_udp=False), 32768).sdp
    assert "a=candidate:" not in hidden and "a=end-of-candidates" not in hidden
    answerer = RTCPeerConnection(rtc_configuration())
    try:
        await answerer.setRemoteDescription(RTCSessionDescription(sdp=hidden, type="offer"))
        await answerer.setLocalDescription(await answerer.createAnswer())
        await pc.setRemoteDescription(answerer.localDescription)
        for _ in range(100):
            if pc.connectionState == answerer.connectionState == "connected":
                break
            await asyncio.sleep(0.1)
        assert (pc.connectionState, answerer.connectionState) == ("connected", "connected")
    finally:
        await pc.close()
        await answerer.close()


class AiortcAnswerer:
    """A stand-in GuestMedia that records what the room hands it: a real aiortc peer per guest."""

    def __init__(self) -> None:
        self.peers: dict[int, RTCPeerConnection] = {}
        self.calls: list[tuple[str, Any]] = []

    async def connect(self, peer: GuestPeer, offer: ValidatedOffer) -> MediaAnswer:
        self.calls.append(("connect", peer))
        pc = RTCPeerConnection()
        self.peers[peer.guest_id] = pc
        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return MediaAnswer(str(pc.localDescription.sdp), {"width": 320, "height": 180, "fps": 5, "kbps": 80})

    async def update(self, peer: GuestPeer) -> None:
        self.calls.append(("update", peer))

    async def disconnect(self, guest_id: int, reason: str) -> None:
        self.calls.append(("disconnect", (guest_id, reason)))
        pc = self.peers.pop(guest_id, None)
        if pc is not None:
            await pc.close()

    async def microphone(self, guest_id: int, open_: bool) -> None:
        self.calls.append(("microphone", (guest_id, open_)))

    def view(self, guest_id: int) -> dict[str, Any] | None:
        return None


async def test_offer_route_validates_then_hands_over(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, series, links = await chair.series(series_at(SOON))
    (link,) = links["guest"].values()
    _o, token, _ = link_parts(link)
    b = browsers()
    await b.page(link)
    sdp = await real_offer()
    status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer", {"type": "offer", "sdp": sdp})
    assert status == 401  # not joined yet
    status, guest = await _join(b, occ, token, passcode=series["passcode"])
    assert status == 200 and guest["status"] == "waiting"
    status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer", {"type": "offer", "sdp": sdp})
    assert status == 409
    bilingual(body, "not_admitted")
    await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/admit")

    # bad offers: a clear 4xx, never handed on
    for text, expect in ((sdp + "a=x:" + "y" * 40000 + "\r\n", 413), (without(sdp, "H264"), 400)):
        status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer", {"type": "offer", "sdp": text})
        assert status == expect and body["field"] == "sdp" and body["th"] and body["en"]
    status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer", {"type": "answer", "sdp": sdp})
    assert status == 400
    # the hub's own media side is attached at startup; no conference runs for this briefing yet
    status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer", {"type": "offer", "sdp": sdp})
    assert status == 409 and body["code"] == "media_unavailable"
    bilingual(body, "media_unavailable")

    media = AiortcAnswerer()
    hub.app[GUESTS].attach_media(media)
    try:
        status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer", {"type": "offer", "sdp": sdp})
        assert status == 200 and body["type"] == "answer" and body["sdp"].startswith("v=0")
        assert body["send_profile"] == {"width": 320, "height": 180, "fps": 5, "kbps": 80}
        (kind, peer), = media.calls
        assert kind == "connect" and peer.guest_id == guest["id"] and peer.display_name == "สมหญิง ใจดี"
        assert peer.occurrence_id == occ and not peer.may_unmute
        await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/allow-mic")
        assert media.calls[-1][0] == "update" and media.calls[-1][1].may_unmute
        await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/remove")
        assert media.calls[-1] == ("disconnect", (guest["id"], "removed"))
        assert not media.peers
    finally:
        for pc in media.peers.values():
            await pc.close()
        await asyncio.sleep(0)
