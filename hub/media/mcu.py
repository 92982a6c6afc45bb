"""The composing MCU of one conference: peers in, one program out.

Lives in the media worker process. Each site is one RTCPeerConnection: its
camera and mic come in (aiortc decodes them), the program video (shared
packets) and its audio (the common mix or its own mix-minus) go out. The
scene — tiles, names, who is heard — is set by the control process; this
module only renders it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from hub.media import audio_gate, channel
from hub.media.compositor import FRAME_STALE_S, Compositor
from hub.media.content_source import ContentSource
from hub.media.decoding import DecoderLanes, Inbox
from hub.media.encoder import (
    VIDEO_CLOCK,
    PackedFrame,
    PacketFanout,
    PacketTrack,
    SharedVideoEncoder,
    h264_codecs,
    opus_codecs,
    route_keyframe_requests,
    share_packetisation,
)
from hub.media.governor import BitrateGovernor
from hub.media.mixer import CHUNK, RATE, AudioMixer, to_mono
from hub.media.recorder import ProgramRecorder, close_on_exit
from hub.media.screen import ScreenFrames, is_camera
from hub.media.spare_peer import SparePeers
from site_agent.rtc import consent, healing

log = logging.getLogger(__name__)

# Largest picture a site may send: 1080p. A 4K camera is refused (shown as a
# slate with an error to the control room) rather than scaled at the hub's cost.
MAX_PIXELS = 1920 * 1088
MAX_SDP_BYTES = 60_000
LEVELS_EVERY_S = 0.25
# A connected site with no new picture for this long is reported as not receiving
# (the control process then rejoins it); checked this often.
STALL_S = 2.0
WATCH_EVERY_S = 0.25
GOVERN_EVERY_S = 1.0  # how often the bitrate governor looks at the senders (hub.media.governor)

Emit = Callable[[channel.Event], None]


class MediaError(Exception):
    """A problem with one site's media; the conference goes on."""


@dataclass
class SitePeer:
    site: str
    pc: RTCPeerConnection
    audio_out: PacketTrack
    video_out: PacketTrack | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    last_video: av.VideoFrame | None = None  # latest decoded frame, scaled lazily by the render thread
    video_seq: int = 0
    picture_at: float = 0.0
    frames_in: int = 0
    audio_frames_in: int = 0
    rejected: int = 0
    last_error_at: float = 0.0
    size: tuple[int, int] | None = None
    state: str = "new"
    connected_at: float = 0.0
    receiving: bool = False  # last SitePicture sent
    max_gap_s: float = 0.0
    audio_next_pts: int | None = None
    audio_missing: int = 0
    buffers: list[healing.HealingJitterBuffer] = field(default_factory=list)
    inboxes: list[Inbox] = field(default_factory=list)  # its streams on the shared decoder lanes
    gates: list[audio_gate.LevelGate] = field(default_factory=list)  # its sound, decoded only while heard

    @property
    def sends(self) -> bool:
        return not self.site.startswith(channel.VIEWER_PREFIX)


def _check_offer(site: str, sdp: str) -> None:
    if not isinstance(sdp, str) or not sdp.strip():
        raise MediaError(f"{site}: empty SDP offer")
    if len(sdp) > MAX_SDP_BYTES:
        raise MediaError(f"{site}: SDP offer of {len(sdp)} bytes is too large")
    if not sdp.startswith("v=0"):
        raise MediaError(f"{site}: malformed SDP offer (must start with 'v=0')")
    if "m=video" not in sdp:
        raise MediaError(f"{site}: the offer has no video section")


def offered_video_codecs(sdp: str) -> list[str]:
    names = []
    for line in sdp.splitlines():
        if line.startswith("a=rtpmap:"):
            try:
                name = line.split(" ", 1)[1].split("/", 1)[0]
            except IndexError:
                continue
            if name.upper() not in ("OPUS", "PCMU", "PCMA", "G722", "TELEPHONE-EVENT") and name not in names:
                names.append(name)
    return names


class MCU:
    def __init__(self, width: int = 1280, height: int = 720, fps: int = 25, kbps: int = 2500,
                 emit: Emit | None = None) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.compositor = Compositor(width, height)
        self.encoder = SharedVideoEncoder(width, height, fps, kbps)
        self.governor = BitrateGovernor(kbps)  # fewer bits while the senders cannot keep up
        self._dropped_seen: dict[str, int] = {}
        self._governed_at = 0.0
        self.video = PacketFanout("video", on_join=self.encoder.gate.request)
        self.mixer = AudioMixer()
        self.screens = ScreenFrames()  # districts' shared screens, their second video stream (issue 14)
        self.content = ContentSource(screens=self.screens)  # the content tile and a clip's sound (issue 14)
        self.spares = SparePeers()  # a peer connection gathered before its offer (issue 15: join time)
        self.mixer.sources.append(self.content.audio_chunk)
        self.peers: dict[str, SitePeer] = {}
        self.emit: Emit = emit or (lambda _msg: None)
        self.audible: set[str] = set()
        self.voice_switching = False
        # One thread composes and encodes on its own clock: the encoder is not
        # thread-safe, a frame's work must not block the event loop, and the
        # program's frame rate must not wait for the event loop's turn (with 20
        # peers it is busy with packets; the thread only hands it finished packets).
        self._render_thread: threading.Thread | None = None
        self._render_stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.frames_out = 0
        self.started_at = time.monotonic()
        self.render_s = 0.0
        self.recorder: ProgramRecorder | None = None  # the running recording (hub.media.recorder, issue 14)
        self.decoders: DecoderLanes | None = None  # every site's decoding, on a few threads (hub.media.decoding)

    # --- lifetime ---------------------------------------------------------------------
    async def start(self) -> None:
        self.started_at = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._render_stop.clear()
        self._render_thread = threading.Thread(target=self._render_loop, name="mcu-render", daemon=True)
        self._render_thread.start()
        self.spares.fill()
        self._tasks = [asyncio.create_task(self._audio_loop()), asyncio.create_task(self._watch_loop())]

    async def stop(self) -> None:
        await asyncio.to_thread(close_on_exit, self)  # a recording ends cleanly with the worker
        await self.spares.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._render_stop.set()
        self.content.close()
        if self._render_thread is not None:
            await asyncio.to_thread(self._render_thread.join, 5)
        for site in list(self.peers):
            await self.leave(site)
        if self.decoders is not None:
            await asyncio.to_thread(self.decoders.close)
            self.decoders = None

    # --- scene --------------------------------------------------------------------------
    def set_scene(self, state: dict[str, Any]) -> None:
        self.compositor.set_scene(state.get("tiles", []), state.get("names", {}))
        self.audible = set(state.get("audible", []))
        self.mixer.audible = self.audible

    # --- peers ------------------------------------------------------------------------------
    async def offer(self, site: str, sdp: str, kind: str = "offer") -> dict[str, str]:
        """Answer a site's offer. Raises :class:`MediaError` with a reason a clerk can act on."""
        if kind != "offer":
            raise MediaError(f"{site}: expected an SDP offer, got {kind!r}")
        _check_offer(site, sdp)
        if site in self.peers:
            await self.leave(site)  # a rejoin replaces the old connection
        spare = self.spares.take()
        pc = spare.pc
        audio_out = PacketTrack(None, "audio")
        peer = SitePeer(site, pc, audio_out)
        video_out = self.video.track()
        peer.video_out = video_out
        video_tr = spare.video
        video_tr.sender.replaceTrack(video_out)
        video_tr.setCodecPreferences(h264_codecs())
        route_keyframe_requests(video_tr.sender, self.encoder.gate.request)
        share_packetisation(video_tr.sender, video_out)
        audio_tr = spare.audio
        audio_tr.sender.replaceTrack(audio_out)
        audio_tr.setCodecPreferences(opus_codecs())
        share_packetisation(audio_tr.sender, audio_out)
        consent.install()  # late STUN answers from a busy district are still answers
        peer.buffers = healing.install(pc)
        for buffer in peer.buffers:
            if not buffer._is_video:  # decoded only while heard; otherwise its level from the headers
                gate = audio_gate.LevelGate(heard=lambda: site in self.audible,
                                            on_level=lambda dbfs: self.mixer.hint_level(site, dbfs),
                                            on_path_change=lambda: setattr(peer, "audio_next_pts", None))
                audio_gate.install(buffer, gate)
                peer.gates.append(gate)

        if self.decoders is None:
            self.decoders = DecoderLanes(asyncio.get_running_loop())
        decoders = self.decoders

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            # Emitted by setRemoteDescription, before the receiver starts: its stream goes to a lane.
            inboxes = [decoders.attach(t.receiver) for t in pc.getTransceivers() if t.receiver.track is track]
            peer.inboxes += inboxes
            if track.kind == "video" and not is_camera(pc, video_tr, track):
                peer.tasks.append(asyncio.create_task(self.screens.receive(site, track)))  # hub.media.screen
            else:
                # the camera's pictures and the sound go straight from the decoder to the MCU
                handler = self._on_video if track.kind == "video" else self._on_audio
                for inbox in inboxes:
                    inbox.on_frame = functools.partial(handler, peer)

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if self.peers.get(site) is not peer:
                return  # an old connection of a site that has rejoined
            peer.state = pc.connectionState
            if peer.state == "connected":
                peer.connected_at = time.monotonic()
            self.emit(channel.SiteState(site=site, state=pc.connectionState))
            if pc.connectionState in ("failed", "closed"):
                # ICE consent lost or DTLS failed: the control process rejoins with a fresh offer.
                await self.leave(site)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await spare.gathered
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except Exception as exc:
            await pc.close()
            video_out.stop()
            decoders.detach(peer.inboxes)
            text = str(exc) or type(exc).__name__
            if "video description send parameters" in text:
                offered = ", ".join(offered_video_codecs(sdp)) or "none"
                raise MediaError(
                    f"{site}: no common video codec; Salaklang sends and receives H.264 only, "
                    f"the site offered {offered}"
                ) from exc
            raise MediaError(f"{site}: malformed SDP offer: {text}") from exc
        self.peers[site] = peer
        self.mixer.add_site(site)
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    async def leave(self, site: str) -> None:
        peer = self.peers.pop(site, None)
        if peer is None:
            return
        self.mixer.remove_site(site)
        for t in peer.tasks:
            t.cancel()
        if self.decoders is not None:
            self.decoders.detach(peer.inboxes)
        self._dropped_seen.pop(site, None)  # a rejoin's sender counts its drops from zero
        peer.audio_out.stop()
        with contextlib.suppress(Exception):
            await peer.pc.close()

    # --- inbound -------------------------------------------------------------------------------
    def _on_video(self, peer: SitePeer, frame: av.VideoFrame) -> None:
        """A district's camera picture, decoded (hub.media.decoding; on the event loop)."""
        peer.size = (frame.width, frame.height)
        if frame.width * frame.height > MAX_PIXELS:
            peer.rejected += 1
            peer.last_video = None
            now = time.monotonic()
            if now - peer.last_error_at > 10:
                peer.last_error_at = now
                self.emit(channel.SiteError(
                    site=peer.site, code="too_large",
                    message=f"{peer.site} sends {frame.width}x{frame.height}; "
                            f"the largest accepted is 1920x1080, shown as a slate"))
            return
        peer.frames_in += 1
        if peer.frames_in == 1:
            self.emit(channel.FirstVideo(site=peer.site, width=frame.width, height=frame.height))
        peer.last_video = frame
        peer.video_seq += 1
        now = time.monotonic()
        if peer.picture_at:
            peer.max_gap_s = max(peer.max_gap_s, now - peer.picture_at)
        peer.picture_at = now

    def _on_audio(self, peer: SitePeer, frame: av.AudioFrame) -> None:
        """20 ms of a heard district's sound, decoded (hub.media.decoding; on the event loop)."""
        try:
            samples = to_mono(frame)
        except ValueError as exc:
            log.warning("%s: %s", peer.site, exc)
            return
        peer.audio_frames_in += 1
        # 20 ms chunks that never arrived show as a jump of the RTP clock (pts)
        if frame.pts is not None:
            if peer.audio_next_pts is not None and frame.pts > peer.audio_next_pts:
                peer.audio_missing += (frame.pts - peer.audio_next_pts) // max(1, frame.samples)
            peer.audio_next_pts = frame.pts + frame.samples
        self.mixer.push(peer.site, samples)

    # --- outbound --------------------------------------------------------------------------------
    def _compose_encode(self, frames: dict[str, tuple[int, av.VideoFrame]], pts: int) -> list[av.Packet]:
        t0 = time.perf_counter()
        # The compositor scales each shown site's frame once (the same frame object
        # while nothing new came in) straight into its tile's YUV planes.
        canvas = self.compositor.compose({site: frame for site, (_seq, frame) in frames.items()})
        packets = self.encoder.encode(canvas, pts)
        self.render_s += time.perf_counter() - t0
        return packets

    def _publish(self, packets: list[av.Packet]) -> None:
        for p in packets:
            self.video.publish(p)

    def _render_loop(self) -> None:
        """The render thread: compose + encode every 1/fps, hand packets to the event loop."""
        assert self._loop is not None
        period = 1.0 / self.fps
        t0 = time.monotonic()
        due = t0
        while not self._render_stop.is_set():
            now = time.monotonic()
            # list() copies the dict in one step under the GIL: peers may join meanwhile
            frames = {s: (p.video_seq, p.last_video) for s, p in list(self.peers.items())
                      if p.last_video is not None and now - p.picture_at < FRAME_STALE_S}
            self.content.add_to(frames, self.compositor.tile_size(channel.CONTENT), self.encoder.gate.request)
            pts = int((now - t0) * VIDEO_CLOCK)
            try:
                packets = self._compose_encode(frames, pts)
            except Exception:
                log.exception("program frame failed")
                packets = []
            if packets:
                try:
                    self._loop.call_soon_threadsafe(self._publish, packets)
                except RuntimeError:
                    return  # the event loop has closed
            self.frames_out += 1
            due += period
            delay = due - time.monotonic()
            if delay < -period:
                due = time.monotonic()  # fell behind: do not burst to catch up
                delay = 0
            self._render_stop.wait(max(0.0, delay))

    async def _watch_loop(self) -> None:
        """Report each connected site's picture starting or stopping (frames decoded, not negotiated)."""
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            now = time.monotonic()
            for site, peer in list(self.peers.items()):
                if not peer.sends or peer.state != "connected":
                    continue
                age = now - max(peer.picture_at, peer.connected_at)
                receiving = peer.picture_at >= peer.connected_at and age <= STALL_S
                if receiving != peer.receiving:
                    peer.receiving = receiving
                    self.emit(channel.SitePicture(site=site, receiving=receiving, age_s=round(age, 2)))
                if not receiving and peer.picture_at:
                    peer.max_gap_s = max(peer.max_gap_s, now - peer.picture_at)
            if now - self._governed_at >= GOVERN_EVERY_S:
                self._governed_at = now
                self._govern(now)

    def _govern(self, now: float) -> None:
        """Count the video senders that fell behind since the last look; maybe a new bitrate."""
        lagging = sites = 0
        for site, peer in list(self.peers.items()):
            out = peer.video_out
            if out is None:
                continue
            sites += 1
            if out.dropped > self._dropped_seen.get(site, 0) or out.queued >= PacketTrack.MAX_QUEUE // 2:
                lagging += 1
            self._dropped_seen[site] = out.dropped
        kbps = self.governor.observe(now, lagging, sites)
        if kbps is not None:
            log.warning("program bitrate %d kbit/s (%d of %d senders behind)", kbps, lagging, sites)
            self.encoder.set_kbps(kbps)

    async def _audio_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = CHUNK / RATE
        due = loop.time()
        last_levels = 0.0
        while True:
            common_packets, personal, levels = self.mixer.tick()
            # the common mix's packets are packed once and shared, like the program's
            common = [PackedFrame.audio(p) for p in common_packets]
            for site, peer in self.peers.items():
                mine = personal.get(site)
                for p in mine if mine is not None else common:
                    peer.audio_out.push(p)
            now = loop.time()
            if now - last_levels >= LEVELS_EVERY_S:
                last_levels = now
                self.emit(channel.Levels(levels={s: round(v, 1) for s, v in levels.items()},
                                         loudest=self.mixer.loudest(levels)))
            due += period
            delay = due - loop.time()
            if delay < -0.2:
                due = loop.time()
                delay = 0
            await asyncio.sleep(max(0.0, delay))

    # --- figures ------------------------------------------------------------------------------------
    def stats(self, reset: bool = False) -> dict[str, Any]:
        elapsed = max(1e-6, time.monotonic() - self.started_at)
        out = {
            "frames_out": self.frames_out,
            "fps_out": round(self.frames_out / elapsed, 2),
            "encode_wall_s": round(self.encoder.wall_s, 3),
            "render_wall_s": round(self.render_s, 3),
            "keyframes": self.encoder.gate.granted,
            "keyframe_requests": self.encoder.gate.requests,
            "program_kbps": self.encoder.kbps,
            "bitrate_steps_down": self.governor.steps_down,
            "process_cpu_s": round(time.process_time(), 3),
            "sites": {
                s: {"state": p.state, "frames_in": p.frames_in,
                    # 20 ms chunks of sound that came, decoded or read for their level (hub.media.audio_gate)
                    "audio_in": p.audio_frames_in + sum(g.ledger.arrived for g in p.gates),
                    "size": list(p.size) if p.size else None, "rejected": p.rejected,
                    "video_queue": p.video_out.queued if p.video_out else 0,
                    "video_dropped": p.video_out.dropped if p.video_out else 0,
                    "max_gap_s": round(p.max_gap_s, 3),
                    "audio_missing": p.audio_missing + sum(g.ledger.missing for g in p.gates),
                    "video_skips": sum(b.skips for b in p.buffers if b._is_video),
                    "receiving": p.receiving,
                    "nacked": {t.kind: healing.nacked(t.receiver) for t in p.pc.getTransceivers()},
                    "decoded": {kind: sum(i.decoded for i in p.inboxes if i.kind == kind)
                                for kind in {i.kind for i in p.inboxes}}}
                for s, p in self.peers.items()
            },
            "decoder_lanes": ({lane.name: lane.inboxes for lanes in self.decoders.lanes.values() for lane in lanes}
                              if self.decoders is not None else {}),
        }
        if reset:
            for p in self.peers.values():
                p.max_gap_s = 0.0
                p.audio_missing = 0
                for g in p.gates:
                    g.ledger.missing = 0
        return out

    def request_keyframe(self) -> None:
        self.encoder.gate.request()


__all__ = ["MCU", "MediaError", "offered_video_codecs"]
