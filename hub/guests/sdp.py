"""A browser's SDP offer, checked before anything media-side sees it.

What the browser receives is the one program the MCU encodes for everyone: H.264
Constrained Baseline (packetization-mode=1) and Opus, which iOS Safari, Chrome and Firefox
all decode. What the browser sends the hub decodes with aiortc: VP8 or H.264. An offer that
cannot carry both directions on those codecs is refused here with a clear message, never
handed on. Parsing uses aiortc's own SDP module (the parser the media side will use).

What goes on is the offer less the candidates the hub cannot use (:func:`usable_candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from hub.guests.model import Refusal

SEND_VIDEO = ("VP8", "H264")  # what the hub can decode from the browser


@dataclass(frozen=True)
class ValidatedOffer:
    sdp: str
    video_receive_pts: tuple[int, ...]  # H.264 CB payload types the program can go out on
    audio_pt: int  # Opus
    video_send_codecs: tuple[str, ...]  # what the browser may send us, in its order
    sends_video: bool  # direction sendrecv/sendonly: the guest's camera is on offer
    sends_audio: bool


def _bad(code: str, th: str, en: str, status: int = 400) -> Refusal:
    return Refusal(code, th, en, status, "sdp")


def _constrained_baseline(params: dict[str, object]) -> bool:
    profile = str(params.get("profile-level-id", ""))
    try:
        parsed, _level = aiortc_sdp.parse_h264_profile_level_id(profile)
    except ValueError:
        return False
    return parsed is aiortc_sdp.H264Profile.PROFILE_CONSTRAINED_BASELINE and str(
        params.get("packetization-mode", "0")) == "1"


def _unusable(line: str) -> bool:
    """An ``a=candidate`` line the hub cannot use: an mDNS name, or TCP.

    A browser without camera permission yet (the page offers while the prompt is open) hides its
    addresses behind ``<uuid>.local`` names. Multicast DNS does not cross the browser's own
    network, and aiortc waits up to a second per name before it answers the offer. The hub
    (aiortc, UDP only) never pairs a TCP candidate either. Without them the browser's
    connectivity checks still reach the hub's own candidates, which it answers as
    peer-reflexive (RFC 8445 §7.3.1.3): the way a browser behind NAT connects anyway.
    """
    parts = line.split()
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
    return len(parts) >= 6 and (parts[2].lower() != "udp" or parts[4].lower().endswith(".local"))


def usable_candidates(text: str) -> str:
    """The offer without the candidates the hub cannot use. A section left with none also loses
    its ``a=end-of-candidates``, or the hub would give up on ICE before the browser's checks came."""
    eol = "\r\n" if "\r\n" in text else "\n"
    sections: list[list[str]] = [[]]
    for line in text.split(eol):
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    out: list[str] = []
    for lines in sections:
        had = any(line.startswith("a=candidate:") for line in lines)
        kept = [line for line in lines if not (line.startswith("a=candidate:") and _unusable(line))]
        if had and not any(line.startswith("a=candidate:") for line in kept):
            kept = [line for line in kept if line != "a=end-of-candidates"]
        out += kept
    return eol.join(out)


def validate_offer(text: str, max_bytes: int) -> ValidatedOffer:
    """The offer, or a :class:`Refusal` (413 over the size limit, 400 otherwise)."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise _bad("sdp_too_large", f"ข้อมูลการเชื่อมต่อ (SDP) ใหญ่เกิน {max_bytes} ไบต์",
                   f"The SDP offer is {size} bytes, over the limit of {max_bytes}", 413)
    if not text.startswith("v=0"):
        raise _bad("sdp_malformed", "ข้อมูลการเชื่อมต่อ (SDP) ไม่ถูกต้อง", "The SDP offer is malformed")
    try:
        desc = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever garbage makes it trip over (even StopIteration)
        raise _bad("sdp_malformed", "ข้อมูลการเชื่อมต่อ (SDP) ไม่ถูกต้อง",
                   f"The SDP offer is malformed ({type(exc).__name__})") from exc
    video = [m for m in desc.media if m.kind == "video" and m.port != 0]
    audio = [m for m in desc.media if m.kind == "audio" and m.port != 0]
    if len(video) != 1 or len(audio) != 1:
        raise _bad("sdp_sections", "ต้องมีภาพและเสียงอย่างละหนึ่งช่อง",
                   "The offer must have exactly one audio and one video section")
    v, a = video[0], audio[0]
    if v.direction not in ("sendrecv", "recvonly") or a.direction not in ("sendrecv", "recvonly"):
        raise _bad("sdp_direction", "เบราว์เซอร์ต้องรับภาพและเสียงของการประชุมได้",
                   "The browser must receive the program's video and audio (sendrecv or recvonly)")
    if v.dtls is None or v.ice is None:
        raise _bad("sdp_malformed", "ข้อมูลการเชื่อมต่อ (SDP) ไม่มีข้อมูลความปลอดภัย", "The SDP offer has no ICE/DTLS parameters")
    receive = tuple(c.payloadType for c in v.rtp.codecs if c.payloadType is not None
                    and c.name.upper() == "H264" and _constrained_baseline(dict(c.parameters)))
    opus = [c.payloadType for c in a.rtp.codecs
            if c.payloadType is not None and c.name.lower() == "opus" and c.clockRate == 48000]
    send = tuple(dict.fromkeys(c.name.upper() for c in v.rtp.codecs if c.name.upper() in SEND_VIDEO))
    if not receive or not opus:
        missing = " และ ".join(n for n, ok in (("H.264 Constrained Baseline", receive), ("Opus", opus)) if not ok)
        raise _bad("sdp_codecs", f"เบราว์เซอร์นี้ไม่รองรับ {missing} ซึ่งจำเป็นสำหรับรับภาพ/เสียงการประชุม",
                   f"This browser offers no {missing.replace(' และ ', ' and ')}, needed to receive the program")
    sends_video = v.direction == "sendrecv"
    if sends_video and not send:
        raise _bad("sdp_codecs", "เบราว์เซอร์นี้ส่งภาพด้วย VP8 หรือ H.264 ไม่ได้",
                   "This browser can send video neither as VP8 nor as H.264")
    return ValidatedOffer(
        sdp=usable_candidates(text), video_receive_pts=receive, audio_pt=opus[0], video_send_codecs=send,
        sends_video=sends_video, sends_audio=a.direction == "sendrecv",
    )
