"""The district's media endpoint (aiortc): camera + mic to the hub, program back.

Sources: a real camera/microphone through FFmpeg (v4l2 + ALSA/PulseAudio on
Linux, dshow on Windows, avfoundation on macOS) or a synthetic one — a slate
with the district's Thai name, a moving bar, a clock and a frame counter, and
a tone — when there is no device, in the demo and in tests.

The endpoint obeys the hub's send profile by producing (synthetic) or scaling
(devices) frames to that size and rate *before* aiortc encodes them, so a
thumbnail costs the hub a 320×180 decode, not a 720p one.

Signalling rides the control WebSocket: the hub's ``join`` command is answered
with this agent's SDP offer, the hub's ``media_answer`` command completes it,
``send_profile`` changes what is sent, ``leave`` ends it.

Every offer carries a second video stream for the clerk's shared screen
(sendonly, empty until :meth:`MediaEndpoint.share_screen` puts the screen
capture on it with ``replaceTrack``, no renegotiation): the hub shows it in the
content tile while the camera stays in the speaker tile (hub.media.screen).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw

from site_agent import protocol as p
from site_agent.client import AgentClient, CommandFailed
from site_agent.devices import (
    Device,
    choose_devices,
    devices_main,
    list_devices,
    open_device,
    thai_font,
)
from site_agent.rtc import consent, healing, level
from site_agent.rtc.config import rtc_configuration

log = logging.getLogger("site_agent.media.endpoint")

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_CHUNK = 960
# No program frame for this long while connected: a stall. It is reported to the hub
# (which answers with a fresh join) once the control channel has answered for SETTLE_S
# after the pictures stopped: in a full cut the connection heals by itself on return.
STALL_S = 2.0
SETTLE_S = 1.5
WATCH_EVERY_S = 0.5
REPORT_EVERY_S = 5.0
# The shared screen's encoder ceiling: up to 1280×720 at a few frames a second (site_agent.content.screen)
SCREEN_PROFILE_KBPS = 900


@dataclass(frozen=True)
class Profile:
    width: int = 320
    height: int = 180
    fps: int = 15
    kbps: int = 300  # ceiling for the encoder (the link's estimate may lower it)

    @classmethod
    def of(cls, wire: p.MediaProfile) -> Profile:
        """The hub's send profile (ranges checked by the protocol), rounded to even sizes for 4:2:0."""
        return cls(wire.width - wire.width % 2, wire.height - wire.height % 2, wire.fps, wire.kbps)


class LiveH264Encoder(H264Encoder):
    """aiortc's H.264 encoder with a live preset and the hub's bitrate ceiling.

    aiortc opens libx264 at its default preset (medium) with 0.5–3 Mbit/s
    whatever the picture; a district notebook sending a 320×180 thumbnail needs
    neither. Same Constrained Baseline 3.1 and zerolatency tune as aiortc, so
    the packetization (inherited) is unchanged.
    """

    PRESET = "superfast"

    def __init__(self, profile: Callable[[], Profile]) -> None:
        super().__init__()
        self._profile = profile

    def _encode_frame(self, frame: av.VideoFrame, force_keyframe: bool) -> Iterator[bytes]:
        bitrate = min(self.target_bitrate, self._profile().kbps * 1000)
        codec = self.codec
        if codec is not None and (
            frame.width != codec.width
            or frame.height != codec.height
            or abs(bitrate - (codec.bit_rate or bitrate)) > 0.1 * bitrate
        ):
            self.buffer_data = b""
            self.buffer_pts = None
            self.codec = codec = None
        frame.pict_type = (av.video.frame.PictureType.I if force_keyframe
                           else av.video.frame.PictureType.NONE)
        if codec is None:
            codec = av.CodecContext.create("libx264", "w")
            codec.width = frame.width
            codec.height = frame.height
            codec.bit_rate = bitrate
            codec.pix_fmt = "yuv420p"
            codec.framerate = fractions.Fraction(30, 1)
            codec.time_base = fractions.Fraction(1, 30)
            codec.options = {"preset": self.PRESET, "tune": "zerolatency", "level": "31"}
            codec.profile = "Baseline"
            self.codec = codec
        data = b"".join(bytes(p) for p in codec.encode(frame))
        if data:
            yield from self._split_bitstream(data)


# --- synthetic sources -------------------------------------------------------------------


def encode_stamp(rgb: np.ndarray, value: int, bits: int = 32) -> None:
    """Draw ``value`` as black/white blocks across the top eighth (survives scaling + codec)."""
    h, w = rgb.shape[:2]
    band = max(2, h // 8)
    for i in range(bits):
        x0, x1 = i * w // bits, (i + 1) * w // bits
        rgb[:band, x0:x1] = 255 if (value >> (bits - 1 - i)) & 1 else 0


def decode_stamp(rgb: np.ndarray, bits: int = 32) -> int:
    h, w = rgb.shape[:2]
    band = max(2, h // 8)
    value = 0
    for i in range(bits):
        x0, x1 = i * w // bits, (i + 1) * w // bits
        cx0, cx1 = x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4
        block = rgb[band // 4 : band - band // 4, cx0 : max(cx0 + 1, cx1)]
        value = (value << 1) | (1 if float(block.mean()) > 127 else 0)
    return value


class SyntheticCamera(MediaStreamTrack):
    """A slate with the Thai name, a moving bar, a clock and a frame counter.

    ``colour`` set: a plain solid picture instead (tests identify tiles by it).
    ``stamp``: the capture time in ms is drawn as a barcode (latency benchmark).
    """

    kind = "video"

    def __init__(self, name_th: str, profile: Profile, *, colour: tuple[int, int, int] | None = None,
                 stamp: bool = False) -> None:
        super().__init__()
        self.name_th = name_th
        self.profile = profile
        self.colour = colour
        self.stamp = stamp
        self.count = 0
        self._start: float | None = None
        self._next = 0.0
        self._backgrounds: dict[tuple[int, int], np.ndarray] = {}

    def _background(self, w: int, h: int) -> np.ndarray:
        bg = self._backgrounds.get((w, h))
        if bg is None:
            if self.colour is not None:
                bg = np.empty((h, w, 3), dtype=np.uint8)
                bg[:] = self.colour
            else:
                img = Image.new("RGB", (w, h), (20, 90, 70))
                draw = ImageDraw.Draw(img)
                font = thai_font(max(10, h // 7))
                box = draw.textbbox((0, 0), self.name_th, font=font)
                draw.text(((w - (box[2] - box[0])) / 2 - box[0], h * 0.35), self.name_th,
                          font=font, fill=(255, 255, 255))
                bg = np.asarray(img, dtype=np.uint8).copy()
            self._backgrounds[(w, h)] = bg
        return bg

    def render(self, now: float) -> np.ndarray:
        w, h = self.profile.width, self.profile.height
        rgb = self._background(w, h).copy()
        if self.colour is None:
            # moving bar: proves the picture is live, not a frozen frame
            x = int((self.count * 4) % max(1, w - w // 10))
            rgb[h - h // 8 : h - h // 16, x : x + w // 10] = (250, 200, 40)
            img = Image.fromarray(rgb)
            draw = ImageDraw.Draw(img)
            clock = time.strftime("%H:%M:%S", time.localtime(now))
            draw.text((w // 40, h * 0.62), f"{clock}  #{self.count}", font=thai_font(max(8, h // 12)),
                      fill=(230, 230, 230))
            rgb = np.asarray(img, dtype=np.uint8).copy()
        if self.stamp:
            encode_stamp(rgb, int(now * 1000) & 0xFFFFFFFF)
        return rgb

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop_now = time.monotonic()
        if self._start is None:
            self._start = loop_now
            self._next = loop_now
        self._next += 1.0 / self.profile.fps
        delay = self._next - loop_now
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.5:
            self._next = time.monotonic()
        rgb = self.render(time.time())
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = int((time.monotonic() - self._start) * VIDEO_CLOCK)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.count += 1
        return frame


class ToneSource(MediaStreamTrack):
    """A sine tone (each district its own frequency), 20 ms frames at 48 kHz."""

    kind = "audio"

    def __init__(self, hz: float = 440.0, amplitude: float = 0.25) -> None:
        super().__init__()
        self.hz = hz
        self.amplitude = amplitude
        self.samples = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.samples / AUDIO_RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (self.samples + np.arange(AUDIO_CHUNK)) / AUDIO_RATE
        pcm = (np.sin(2 * math.pi * self.hz * t) * self.amplitude * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.samples += AUDIO_CHUNK
        return frame


class ScaledTrack(MediaStreamTrack):
    """Wraps a device track: scales to the send profile and drops frames above its rate."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, profile: Profile) -> None:
        super().__init__()
        self.source = source
        self.profile = profile
        self._last = 0.0
        # Kept: VideoFrame.reformat builds a new SwsContext per frame (ms of an old notebook's CPU).
        self._scaler = VideoReformatter()

    async def recv(self) -> av.VideoFrame:
        while True:
            frame = await self.source.recv()
            assert isinstance(frame, av.VideoFrame)
            now = time.monotonic()
            if now - self._last < 0.9 / self.profile.fps:
                continue
            self._last = now
            out = self._scaler.reformat(frame, width=self.profile.width, height=self.profile.height,
                                        format="yuv420p")
            out.pts, out.time_base = frame.pts, frame.time_base
            return out

    def stop(self) -> None:
        super().stop()
        self.source.stop()


# --- playing the program on a real PC ------------------------------------------------------


class ProgramPlayer:
    """Shows the program in a window and plays its sound, through two ``ffplay`` processes.

    Frames are written raw to ffplay's stdin; when ffplay falls behind, frames
    are dropped rather than queued (a live picture must not lag). Without
    ffplay, or when it cannot open a display or a sound card, the program is
    still received (the null sink) and the reason is logged once.
    """

    MAX_BUFFER = 4 * 1280 * 720 * 3 // 2  # about four 720p frames

    def __init__(self, title: str = "ศาลากลาง · Salaklang", ffplay: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.title = title
        self.ffplay = ffplay or shutil.which("ffplay")
        self.env = env
        self.video: asyncio.subprocess.Process | None = None
        self.audio: asyncio.subprocess.Process | None = None
        self.size: tuple[int, int] | None = None
        self.video_bytes = 0
        self.audio_bytes = 0
        self.dropped = 0
        self._starting: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._warned = False

    async def _spawn(self, *args: str) -> asyncio.subprocess.Process | None:
        if self.ffplay is None:
            if not self._warned:
                self._warned = True
                log.warning("ffplay not found: the program is received but not shown (install ffmpeg)")
            return None
        return await asyncio.create_subprocess_exec(
            self.ffplay, "-hide_banner", "-loglevel", "error", "-fflags", "nobuffer", *args, "-i", "-",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, env=self.env)

    @staticmethod
    def _write(proc: asyncio.subprocess.Process | None, data: bytes, limit: int) -> bool:
        if proc is None or proc.returncode is not None or proc.stdin is None:
            return False
        transport = proc.stdin.transport
        if transport.is_closing() or transport.get_write_buffer_size() > limit:
            return False
        proc.stdin.write(data)
        return True

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart_video(self, w: int, h: int) -> None:
        try:
            await self._stop(self.video)
            self.size = (w, h)
            self.video = await self._spawn("-f", "rawvideo", "-pixel_format", "yuv420p",
                                           "-video_size", f"{w}x{h}", "-framerate", "25",
                                           "-window_title", self.title)
        finally:
            self._starting.discard("video")

    def show(self, frame: av.VideoFrame) -> None:
        size = (frame.width, frame.height)
        if size != self.size:
            if "video" not in self._starting:
                self._starting.add("video")
                self._background(self._restart_video(*size))
            return
        data = frame.to_ndarray(format="yuv420p").tobytes()
        if self._write(self.video, data, self.MAX_BUFFER):
            self.video_bytes += len(data)
        else:
            self.dropped += 1

    def play(self, frame: av.AudioFrame) -> None:
        if self.audio is None:
            if "audio" not in self._starting:
                self._starting.add("audio")

                async def start() -> None:
                    try:
                        self.audio = await self._spawn("-nodisp", "-f", "s16le", "-sample_rate",
                                                       str(frame.sample_rate), "-ch_layout", "stereo")
                    finally:
                        self._starting.discard("audio")

                self._background(start())
            return
        pcm = frame.to_ndarray()
        if frame.format.is_planar or len(frame.layout.channels) != 2:
            mono = pcm.reshape(len(frame.layout.channels), -1).mean(axis=0) if frame.format.is_planar \
                else pcm.reshape(-1, len(frame.layout.channels)).mean(axis=1)
            pcm = np.repeat(mono.astype(np.int16), 2)
        data = pcm.astype(np.int16).tobytes()
        if self._write(self.audio, data, 48_000 * 4 // 2):  # at most 0.5 s of sound queued
            self.audio_bytes += len(data)

    @staticmethod
    async def _stop(proc: asyncio.subprocess.Process | None) -> None:
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def close(self) -> None:
        await self._stop(self.video)
        await self._stop(self.audio)
        self.video = self.audio = None
        self.size = None


# --- the endpoint ----------------------------------------------------------------------------


def _h264_first() -> list[Any]:
    caps = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in caps if c.mimeType.lower() == "video/h264"]
    h264.sort(key=lambda c: c.parameters.get("packetization-mode") != "1")
    return h264 + [c for c in caps if c.mimeType.lower() == "video/rtx"]


ProgramSink = Callable[[av.VideoFrame], None]
AudioSink = Callable[[av.AudioFrame], None]


class MediaEndpoint:
    """One agent's side of the conference: offerer, sender, program receiver."""

    def __init__(
        self,
        name_th: str,
        *,
        camera: MediaStreamTrack | None = None,
        microphone: MediaStreamTrack | None = None,
        colour: tuple[int, int, int] | None = None,
        tone_hz: float = 440.0,
        stamp: bool = False,
        on_video: ProgramSink | None = None,
        on_audio: AudioSink | None = None,
        player: ProgramPlayer | None = None,
    ) -> None:
        self.name_th = name_th
        self.profile = Profile()
        self._device_camera = camera
        self.colour = colour
        self.stamp = stamp
        self.camera: MediaStreamTrack | None = None
        self.microphone = microphone or ToneSource(tone_hz)
        self.on_video = on_video
        self.on_audio = on_audio
        self.player = player  # None: headless, the program goes to a null sink
        self.pc: RTCPeerConnection | None = None
        self.conference_id: int | None = None
        self.video_frames = 0
        self.audio_frames = 0
        self.first_video_at: float | None = None
        self.last_video_at = 0.0  # monotonic time of the last program frame
        self.connected_at = 0.0  # monotonic time the peer connection last became connected
        self.conference_state: p.ConferenceState | None = None  # last floor/mic state the hub sent
        self.on_connected: Callable[[], Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.screen: MediaStreamTrack | None = None  # the shared screen while the clerk shares it
        self._screen_sender: RTCRtpSender | None = None

    def _make_camera(self) -> MediaStreamTrack:
        if self._device_camera is not None:
            return ScaledTrack(self._device_camera, self.profile)
        return SyntheticCamera(self.name_th, self.profile, colour=self.colour, stamp=self.stamp)

    async def offer(self, profile: Profile, conference_id: int | None = None) -> dict[str, str]:
        await self.close()
        self.profile = profile
        self.conference_id = conference_id
        pc = RTCPeerConnection(rtc_configuration())
        self.pc = pc
        self.camera = self._make_camera()
        video = pc.addTransceiver(self.camera, direction="sendrecv")
        video.setCodecPreferences(_h264_first())
        # aiortc creates its encoder on the first frame unless one is set: ours
        # obeys the send profile's bitrate and uses a live preset.
        video.sender._RTCRtpSender__encoder = LiveH264Encoder(lambda: self.profile)  # type: ignore[attr-defined]
        pc.addTransceiver(self.microphone, direction="sendrecv")
        # The shared screen's stream: empty until share_screen() (a sender without a track sends nothing).
        screen = pc.addTransceiver("video", direction="sendonly")
        # H.264 without RTX: aiortc routes a retransmission (its RTX SSRC is not in the SDP's table)
        # by payload type alone, so an RTX type shared by two video streams reaches neither and the
        # camera's NACKs go unanswered. The screen's own losses are resent as plain packets.
        screen.setCodecPreferences([c for c in _h264_first() if c.mimeType.lower() == "video/h264"])
        screen_profile = Profile(1280, 720, 8, SCREEN_PROFILE_KBPS)
        screen.sender._RTCRtpSender__encoder = LiveH264Encoder(lambda: screen_profile)  # type: ignore[attr-defined]
        self._screen_sender = screen.sender
        if self.screen is not None:
            screen.sender.replaceTrack(self.screen)  # a rejoin while sharing keeps sharing
        consent.install()  # a hub busy composing answers consent checks late, not never
        level.install()  # the packets' audio level in numpy, not a Python loop per sample
        healing.install(pc)  # a hole NACK cannot fill must not freeze the program

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._sink(track)))

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState == "connected":
                self.connected_at = time.monotonic()
            if pc.connectionState == "connected" and self.on_connected is not None:
                result = self.on_connected()
                if asyncio.iscoroutine(result):
                    await result

        await pc.setLocalDescription(await pc.createOffer())
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    def share_screen(self, track: MediaStreamTrack) -> None:
        """Send ``track`` (the screen capture) on the screen stream, replacing any earlier one."""
        old, self.screen = self.screen, track
        if self._screen_sender is not None:
            self._screen_sender.replaceTrack(track)
        if old is not None and old is not track:
            old.stop()

    def stop_screen(self) -> None:
        track, self.screen = self.screen, None
        if self._screen_sender is not None:
            self._screen_sender.replaceTrack(None)
        if track is not None:
            track.stop()

    @property
    def in_conference(self) -> bool:
        return self.pc is not None and self.conference_id is not None

    async def answer(self, sdp: str, kind: str = "answer") -> None:
        if self.pc is None:
            raise RuntimeError("no offer is outstanding")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))

    def set_profile(self, profile: Profile) -> None:
        self.profile = profile
        if isinstance(self.camera, SyntheticCamera | ScaledTrack):
            self.camera.profile = profile

    async def _sink(self, track: MediaStreamTrack) -> None:
        """Headless: consume and count (a real PC shows it in the program window)."""
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    self.last_video_at = time.monotonic()
                    if self.first_video_at is None:
                        self.first_video_at = time.monotonic()
                    assert isinstance(frame, av.VideoFrame)
                    if self.on_video is not None:
                        self.on_video(frame)
                    if self.player is not None:
                        self.player.show(frame)
                else:
                    self.audio_frames += 1
                    assert isinstance(frame, av.AudioFrame)
                    if self.on_audio is not None:
                        self.on_audio(frame)
                    if self.player is not None:
                        self.player.play(frame)

    @property
    def connection_state(self) -> str:
        return self.pc.connectionState if self.pc else "closed"

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        if self.player is not None:
            await self.player.close()
        if self._screen_sender is not None:
            # closing the connection would stop the shared screen's capture with its sender
            self._screen_sender.replaceTrack(None)
            self._screen_sender = None
        if self.pc is not None:
            pc, self.pc = self.pc, None
            with contextlib.suppress(Exception):
                await pc.close()
        self.first_video_at = None


def install(client: AgentClient, name_th: str | None = None, **endpoint_args: Any) -> MediaEndpoint:
    """Register the media commands on an agent client: join, media_answer, send_profile, leave, media_status."""
    endpoint = MediaEndpoint(name_th or client.site, **endpoint_args)
    _ENDPOINTS[client.site] = endpoint

    async def join(command: p.JoinConference) -> p.MediaOffer:
        if command.name_th:
            endpoint.name_th = command.name_th
        offer = await endpoint.offer(Profile.of(command.send_profile), command.conference_id)
        return p.MediaOffer(sdp=offer["sdp"])

    async def media_answer(command: p.MediaAnswer) -> p.MediaConnection:
        if command.conference_id != endpoint.conference_id:
            raise CommandFailed(f"answer for conference {command.conference_id}, "
                                f"but this agent offered for {endpoint.conference_id}")
        await endpoint.answer(command.sdp, command.sdp_type)
        return p.MediaConnection(state=endpoint.connection_state)

    async def send_profile(command: p.SendProfile) -> p.ProfileApplied:
        endpoint.set_profile(Profile.of(command.profile))
        return p.ProfileApplied(width=endpoint.profile.width, height=endpoint.profile.height,
                                fps=endpoint.profile.fps)

    async def leave(command: p.LeaveConference) -> p.Done:
        endpoint.stop_screen()
        await endpoint.close()
        endpoint.conference_state = None
        with contextlib.suppress(ConnectionError):
            await client.send(p.Status(state="ready"))
        return p.Done()

    def observe(command: p.HubCommand[Any]) -> None:
        # The clerk answers conference_state (floor and microphone, for the tray); the
        # endpoint keeps the last one too, for the program window and diagnostics.
        if isinstance(command, p.ConferenceState):
            endpoint.conference_state = command

    async def in_conference() -> None:
        # The scheduler's attendance counts a district as joined on this status.
        with contextlib.suppress(ConnectionError):
            await client.send(p.Status(state="in_conference"))

    endpoint.on_connected = in_conference

    async def media_status(command: p.MediaStatus) -> p.MediaCounters:
        return p.MediaCounters(state=endpoint.connection_state, video_frames=endpoint.video_frames,
                               audio_frames=endpoint.audio_frames, conference_id=endpoint.conference_id)

    async def watch(c: AgentClient) -> None:
        """The agent's side of healing: a failed or stalled path asks the hub for a fresh join."""
        reported: RTCPeerConnection | None = None
        stall_since: float | None = None
        control_after: float | None = None
        last_report = 0.0
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            pc, conference_id = endpoint.pc, endpoint.conference_id
            now = time.monotonic()
            if pc is None or conference_id is None or pc.connectionState != "connected":
                stall_since = control_after = None
                if pc is not None and conference_id is not None and pc.connectionState in ("failed", "closed") \
                        and reported is not pc:
                    reported = pc
                    with contextlib.suppress(ConnectionError):
                        await c.send(p.MediaHealth(conference_id=conference_id, state="failed",
                                                   video_frames=endpoint.video_frames))
                continue
            last = max(endpoint.last_video_at, endpoint.connected_at)
            if now - last <= STALL_S:
                stall_since = control_after = None
                continue
            if stall_since is None:
                stall_since = last
            if control_after is None and c.last_ack_at > stall_since:
                control_after = now
            if control_after is not None and now - control_after >= SETTLE_S and now - last_report >= REPORT_EVERY_S:
                last_report = now
                log.warning("no program for %.1f s: asking the hub for a fresh connection", now - last)
                with contextlib.suppress(ConnectionError):
                    await c.send(p.MediaHealth(conference_id=conference_id, state="stalled",
                                               stalled_s=round(now - last, 1), video_frames=endpoint.video_frames))

    client.add_start_task(watch)
    client.add_command_handler(p.JoinConference, join)
    client.add_command_handler(p.MediaAnswer, media_answer)
    client.add_command_handler(p.SendProfile, send_profile)
    client.add_command_handler(p.LeaveConference, leave)
    client.add_command_handler(p.MediaStatus, media_status)
    client.add_command_observer(observe)
    return endpoint


# The endpoint of each site installed in this process (one on a district PC): the clerk's present
# dialog shares the screen through it (site_agent.content.service.Presenter).
_ENDPOINTS: dict[str, MediaEndpoint] = {}


def endpoint_of(site: str) -> MediaEndpoint | None:
    return _ENDPOINTS.get(site)


def demo_tone_hz(site: str) -> float:
    """A distinct tone per district (UDN07 → 559 Hz), so a listener can tell them apart."""
    digits = "".join(ch for ch in site if ch.isdigit()) or "0"
    return 300.0 + 37.0 * (int(digits) % 40)


def install_for_agent(client: AgentClient, *, demo: bool = False, headless: bool = True,
                      devices: Sequence[Device] | None = None) -> MediaEndpoint:
    """What ``python -m site_agent run`` installs: real devices if any (and not ``--demo``), else synthetic.

    The devices are the self-test's choice (:func:`site_agent.devices.choose_devices`: the remembered
    ones first); ``devices`` defaults to what this PC has. ``headless=False`` (the tray on a
    meeting-room PC) shows the program in a window with sound.
    """
    camera = microphone = None
    if not demo:
        choice = choose_devices(client.config.extra.get("devices"), devices)
        for kind, device in (("video", choice.video), ("audio", choice.audio)):
            if device is None:
                log.warning("no %s device found: using a synthetic one", kind)
                continue
            try:
                track = open_device(device)
            except Exception as exc:  # a busy or broken device must not stop the agent
                log.warning("cannot open %s (%s): %s; using a synthetic one", device.name, device.file, exc)
                continue
            if kind == "video":
                camera = track
            else:
                microphone = track
    player = None if headless else ProgramPlayer()
    return install(client, camera=camera, microphone=microphone, tone_hz=demo_tone_hz(client.site),
                   player=player)


__all__ = ["Device", "MediaEndpoint", "Profile", "ProgramPlayer", "SyntheticCamera", "ToneSource", "decode_stamp",
           "demo_tone_hz", "devices_main", "encode_stamp", "endpoint_of", "install", "install_for_agent", "list_devices", "open_device"]
