#!/usr/bin/env python3
"""The composing MCU under a full province: hub media worker + N districts, 720p25 program.

    .venv/bin/python scripts/bench_mcu.py --sites 20 --seconds 30

The hub's media worker (hub.media.worker, its own process, as in production)
composes a 1+N program at 1280×720@25 with the first district holding the
floor. The districts are load generators in other processes: they send
pre-encoded H.264 and Opus packets (no encoding cost hidden in the figures,
no CPU stolen from the hub), and all but two count the program at the RTP
level instead of decoding it. The floor holder's pictures carry a frame
counter barcode; a decoding receiver reads it back from the program for
glass-to-glass latency. After the run, the same program frames are encoded
once more with a plain libx264 context for the hub-vs-encode ratio.

Signalling goes straight from this script to the worker (the control
channel's two messages per join are not part of the media figures).

One invocation (about 5 minutes at the defaults) measures, in order: half the
districts joined, a --small-seconds window (the CPU at N/2); at N/2 too, issue
14's costs where the worker has headroom: presentation with a still page, then
with a clip playing (the 960x540 playout the hub makes at upload), and 1+N with
recording off, on, off (``clip_cpu_ratio_half``, ``recording_cpu_ratio_half``);
then the other half joins and the main window runs (--seconds, 1+N, all
districts: CPU, fps, latency), hence ``cores_per_site`` = (CPU at N − CPU at
N/2) / (N − N/2); a window per other layout (speaker, 4x5, presentation;
--layout-seconds) for latency p95 per layout, the barcode read from the
holder's tile wherever the layout puts it; issue 14's windows again with all N
(``clip_cpu_ratio``, ``recording_cpu_ratio``: issue 14's keys, the costs in the
run's own briefing; at the worker's one-core ceiling they are capped, flagged
``ratios_capped``, and each window's fps min says whether the program paid
instead); then, the hub stopped, the floor (issue 17 point 3): decoding every
incoming stream once + one plain encode of the program + SRTP-protecting the
program's packets (at the rate the sites counted) once per site. After the
districts' run, the same two costs beside a small worker of their own
(``clip_cpu_ratio_empty``: a still page at no districts, with the uploaded 720p
original beside it as ``clip_cpu_ratio_original_empty``;
``recording_cpu_ratio_2_sites``: 2 districts). ``--districts-only`` stops
before any of issue 14's windows.
The last line is JSON:
{"sites", "hub_cpu_cores", "cores_per_site", "floor_cores", "encode_cpu_cores", "ratio", "fps_min",
 "fps_median", "latency_p50_ms", "latency_p95_ms", "join_all_s", "sites_small", "hub_cpu_cores_small",
 "latency_p95_ms_by_layout", "fps_min_by_layout", "clip_cpu_ratio", "recording_cpu_ratio", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import numpy as np

VIDEO_CLOCK = 90_000
LARGE = (1280, 720, 25)
THUMB = (320, 180, 15)
# the picture sizes the layouts below ask of the holder (speaker, 1+N, 4x5 and presentation)
# and of the others (1+N and presentation at a full province, 4x5, speaker's idle trickle)
SIZES_HOLDER = ((1280, 720), (960, 540), (320, 180))
SIZES_OTHERS = ((160, 90), (320, 180))
LAYOUT_WINDOWS = ("speaker", "4x5", "presentation")  # besides the main window's 1+N
STAMP_LOOP = 250  # distinct frame counters in the holder's loop (10 s at 25 fps)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# --- load generator (runs in its own process) ------------------------------------------------


def pre_encode_video(width: int, height: int, fps: int, frames: int, *, stamp: bool,
                     colour: tuple[int, int, int]) -> list[bytes]:
    """A loop of H.264 frames starting at a keyframe (GOP = 1 s), encoded once up front."""
    from hub.conferences.layout import LADDER
    from hub.media.encoder import SharedVideoEncoder
    from site_agent.media.endpoint import encode_stamp

    # at the bitrate the hub's profile of that size asks for
    kbps = next((p.kbps for p in LADDER if (p.width, p.height) == (width, height)), 200)
    enc = SharedVideoEncoder(width, height, fps, kbps=kbps, gop_s=1.0)
    out: list[bytes] = []
    for i in range(frames):
        rgb = np.empty((height, width, 3), dtype=np.uint8)
        rgb[:] = colour
        x = (i * 8) % max(1, width - width // 8)
        rgb[height // 2 : height // 2 + height // 10, x : x + width // 8] = (250, 250, 250)
        if stamp:
            encode_stamp(rgb, i)
        packets = enc.encode(rgb, i * VIDEO_CLOCK // fps)
        out.append(b"".join(bytes(p) for p in packets))
    for p in enc.ctx.encode(None):  # flush: zerolatency has no delay, but be exact
        out[-1] += bytes(p)
    return out


TONE_AMPLITUDE = 8000
# The tone's RMS level in dBov (RFC 6465): what an agent's aiortc writes in each Opus packet's
# ssrc-audio-level header when it encodes its mic; a pre-encoded loop carries none by itself.
TONE_DBOV = round(20 * math.log10(TONE_AMPLITUDE / math.sqrt(2) / 32767))


def send_audio_level(sender: Any, dbov: int) -> None:
    """Have ``sender`` put ``dbov`` in every packet's audio-level header, as an agent's does."""
    upstream = sender._next_encoded_frame

    async def with_level(codec: Any) -> Any:
        frame = await upstream(codec)
        if frame is not None:
            frame.audio_level = dbov
        return frame

    sender._next_encoded_frame = with_level


def pre_encode_opus(hz: float, packets: int = 50) -> list[bytes]:
    from hub.media.mixer import CHUNK, OpusStream

    enc = OpusStream(layout="stereo")  # as an agent's aiortc sends
    out: list[bytes] = []
    n = 0
    while len(out) < packets:
        t = (n * CHUNK + np.arange(CHUNK)) / 48_000
        for p in enc.encode((np.sin(2 * np.pi * hz * t) * TONE_AMPLITUDE).astype(np.float32), n * CHUNK):
            out.append(bytes(p))
        n += 1
    return out


async def loadgen(args: argparse.Namespace) -> None:
    sys.setswitchinterval(0.0005)  # the decoding receiver's thread must not queue behind RTP handling
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    from hub.media.encoder import h264_codecs, route_keyframe_requests
    from site_agent.media.endpoint import decode_stamp
    from site_agent.rtc import consent

    sites = args.sites.split(",")
    measure = set(filter(None, args.measure.split(",")))
    holder = args.holder
    t0 = time.monotonic()
    # What a district sends follows its tile (hub.conferences.layout.send_profiles, as the
    # hub's SendProfile tells an agent): one loop per picture size the bench's layouts ask for.
    thumbs = {size: pre_encode_video(*size, THUMB[2], frames=30, stamp=False, colour=(40, 120, 160))
              for size in SIZES_OTHERS}
    stamped = ({size: pre_encode_video(*size, LARGE[2], frames=STAMP_LOOP, stamp=True, colour=(160, 60, 40))
                for size in SIZES_HOLDER} if holder in sites else {})
    thumb, large = thumbs[THUMB[:2]], stamped.get(LARGE[:2], [])
    opus = pre_encode_opus(523.0)
    print(json.dumps({"log": f"pre-encoded in {time.monotonic() - t0:.1f} s"}), flush=True)

    window = {"on": False, "start": 0.0, "stop": 0.0}
    tile = [0, 0, 960, 540]  # the holder's tile in the program (1280×720 pixels), set per window
    rtp_frames: dict[str, int] = dict.fromkeys(sites, 0)
    rtp_packets: dict[str, int] = dict.fromkeys(sites, 0)  # program video packets (the floor's SRTP count)
    decoded: dict[str, int] = dict.fromkeys(sites, 0)
    sent_at: dict[int, float] = {}  # holder frame counter → last wall time it was sent
    latencies: list[float] = []
    shown = [-1]  # the holder's frame counter in the last program frame decoded
    kept: list[np.ndarray] = []

    class LoopTrack(MediaStreamTrack):
        def __init__(self, kind: str, loop: list[bytes], rate: float, clock: int, on_sent: Any = None) -> None:
            super().__init__()
            self.kind = kind
            self.loop, self.rate, self.clock, self.on_sent = loop, rate, clock, on_sent
            self.n = 0
            self.pos = 0
            self.start: float | None = None
            self.pts0 = 0  # the RTP time where the current rate began

        def restart(self) -> None:
            self.pos = 0  # the loop starts with a keyframe: answer a PLI with it

        def use(self, loop: list[bytes], rate: float) -> None:
            """A new send profile: as an agent's encoder, the new size starts at a keyframe."""
            if loop is self.loop and rate == self.rate:
                return
            if self.start is not None:
                self.pts0 += int(self.n * self.clock / self.rate)
                self.start, self.n = time.monotonic(), 0
            self.loop, self.rate, self.pos = loop, rate, 0

        async def recv(self) -> av.Packet:
            if self.readyState != "live":
                raise MediaStreamError
            if self.start is None:
                self.start = time.monotonic()
            delay = self.start + self.n / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            idx = self.pos % len(self.loop)
            packet = av.Packet(self.loop[idx])
            packet.pts = self.pts0 + int(self.n * self.clock / self.rate)
            packet.time_base = fractions.Fraction(1, self.clock)
            if self.on_sent is not None:
                self.on_sent(idx, time.time())
            self.n += 1
            self.pos += 1
            return packet

    def note_sent(idx: int, at: float) -> None:
        sent_at[idx] = at

    def count_only(site: str, receiver: Any, video: bool) -> None:
        async def handle(packet: Any, arrival_time_ms: int) -> None:
            if video and window["on"]:
                rtp_packets[site] += 1
                rtp_frames[site] += packet.marker

        receiver._handle_rtp_packet = handle

    class HeaderOnly:
        """A count-only district reads RTP headers, which SRTP leaves in the clear: it
        skips decrypting the program's payloads (they are never decoded), so the load
        generators spend less of the shared CPU. RTCP is still decrypted and handled."""

        def __init__(self, srtp: Any) -> None:
            self.srtp = srtp

        def unprotect(self, data: bytes) -> bytes:
            return data

        def unprotect_rtcp(self, data: bytes) -> bytes:
            return bytes(self.srtp.unprotect_rtcp(data))

    def skip_decrypt(pc: Any) -> None:
        @pc.on("connectionstatechange")
        def _wrap() -> None:
            for t in pc.getTransceivers():
                dtls = t.receiver.transport
                if pc.connectionState == "connected" and dtls._rx_srtp is not None \
                        and not isinstance(dtls._rx_srtp, HeaderOnly):
                    dtls._rx_srtp = HeaderOnly(dtls._rx_srtp)

    async def consume(site: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if track.kind != "video" or not window["on"]:
                    continue
                decoded[site] += 1
                if site == holder:
                    plane = frame.planes[0]
                    y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
                    # the holder's tile (its barcode is the top eighth of its own picture)
                    tx, ty, tw, th = (v * frame.width // 1280 for v in tile)
                    idx = decode_stamp(y[ty : ty + th, tx : tx + tw])
                    now = time.time()
                    # glass to glass: a picture's first program frame. A holder sending at 15 fps
                    # (its tile a 4x5 cell) is in about 1.7 program frames of 25; the later ones
                    # are the picture still shown, not the delay (they read 40 ms more each).
                    if idx != shown[0] and idx in sent_at and 0 <= now - sent_at[idx] < 5:
                        latencies.append((now - sent_at[idx]) * 1000)
                    shown[0] = idx
                    if len(kept) < 50:
                        kept.append(frame.to_ndarray(format="yuv420p"))

    pcs: dict[str, Any] = {}
    video_tracks: dict[str, LoopTrack] = {}
    left: list[Any] = []

    def loop_for(site: str, w: int, h: int) -> list[bytes]:
        """The smallest pre-encoded loop at least w×h (the hub scales it down if not exactly)."""
        loops = stamped if site == holder else thumbs
        size = min((s for s in loops if s[0] >= w and s[1] >= h), default=max(loops), key=lambda s: s[0] * s[1])
        return loops[size]

    def follow(profiles: dict[str, list[int]]) -> None:
        """Each district sends what its tile asks."""
        for site, (w, h, fps) in profiles.items():
            track = video_tracks.get(site)
            if track is not None:
                track.use(loop_for(site, w, h), fps)
    active: set[str] = set()  # answered by the hub (the districts join in two batches)
    consent.install()  # as the agents' endpoint does: a busy generator answers late, not never
    for site in sites:
        pc = RTCPeerConnection()
        pcs[site] = pc
        if site == holder:
            vtrack = LoopTrack("video", large, LARGE[2], VIDEO_CLOCK, note_sent)
        else:
            vtrack = LoopTrack("video", thumb, THUMB[2], VIDEO_CLOCK)
        video_tracks[site] = vtrack
        vt = pc.addTransceiver(vtrack, direction="sendrecv")
        vt.setCodecPreferences(h264_codecs())
        route_keyframe_requests(vt.sender, vtrack.restart)
        at = pc.addTransceiver(LoopTrack("audio", opus, 50, 48_000), direction="sendrecv")
        send_audio_level(at.sender, TONE_DBOV)
        if site in measure:
            pc.on("track", lambda track, site=site: asyncio.ensure_future(consume(site, track)))
        await pc.setLocalDescription(await pc.createOffer())
        print(json.dumps({"offer": {"site": site, "sdp": pc.localDescription.sdp, "type": "offer"}}), flush=True)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        msg = json.loads(line)
        if "answer" in msg:
            a = msg["answer"]
            pc = pcs[a["site"]]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=a["sdp"], type="answer"))
            active.add(a["site"])
            if a["site"] not in measure:
                for t in pc.getTransceivers():
                    count_only(a["site"], t.receiver, t.kind == "video")
                skip_decrypt(pc)
        elif "profiles" in msg:
            follow(msg["profiles"])
        elif msg.get("window") == "start":
            # each window counts afresh (the main window, one per layout, the 10-site one)
            for counts in (rtp_frames, rtp_packets, decoded):
                for s in counts:
                    counts[s] = 0
            latencies.clear()
            tile[:] = msg.get("tile", [0, 0, 960, 540])
            window.update(on=True, start=time.monotonic())
        elif msg.get("window") == "stop":
            window.update(on=False, stop=time.monotonic())
            span = window["stop"] - window["start"]
            fps = {s: (decoded[s] if s in measure else rtp_frames[s]) / span for s in sites
                   if s in pcs and s in active}
            packets = [rtp_packets[s] / span for s in sites if s in pcs and s in active and s not in measure]
            print(json.dumps({"result": {"fps": fps, "latencies_ms": latencies, "span_s": span,
                                         "video_packets_per_s": max(packets, default=0.0),
                                         "decoded": {s: decoded[s] for s in measure}}}), flush=True)
        elif "leave" in msg:
            for site in msg["leave"]:
                pc = pcs.pop(site, None)
                if pc is not None:
                    left.append(pc)  # closed with the rest at the end; the hub has closed its side
        elif msg.get("encode_bench"):
            for pc in [*pcs.values(), *left]:
                await pc.close()
            out: dict[str, Any] = dict(encode_bench(kept))
            if large:
                # the floor is measured where the holder's 720p loop is: the same streams the hub decodes
                # ... and as the main window's profiles had them (1+N at the whole province)
                main = msg["main_profiles"]
                other = next(v for k, v in main.items() if k != holder)
                out["floor"] = floor_bench((loop_for("", *other[:2]), other[2]),
                                           (loop_for(holder, *main[holder][:2]), main[holder][2]),
                                           opus, kept, int(msg["sites"]))
            print(json.dumps({"encode": out}), flush=True)
            break


def encode_bench(frames: list[np.ndarray], seconds_of_video: float = 10.0) -> dict[str, float]:
    """CPU of one plain 720p encode (same libx264 settings as the hub) of the received program frames."""
    from hub.media.encoder import TIME_BASE, SharedVideoEncoder

    if not frames:
        return {"cores": float("nan"), "frames": 0}
    w = frames[0].shape[1]
    h = frames[0].shape[0] * 2 // 3
    enc = SharedVideoEncoder(w, h, LARGE[2], kbps=2500)
    n = int(seconds_of_video * LARGE[2])
    # process CPU, not thread CPU: libx264 encodes in threads of its own
    t0 = time.process_time()
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="yuv420p")
        frame.pts = i * VIDEO_CLOCK // LARGE[2]
        frame.time_base = TIME_BASE
        list(enc.ctx.encode(frame))
    cpu = time.process_time() - t0
    # For context: the same frames through aiortc's own H.264 encoder (libx264 at
    # its default preset), i.e. what one aiortc sender costs when handed frames.
    from aiortc.codecs.h264 import H264Encoder

    plain = H264Encoder()
    t1 = time.process_time()
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="yuv420p")
        frame.pts = i * VIDEO_CLOCK // LARGE[2]
        frame.time_base = TIME_BASE
        plain.encode(frame)
    aiortc_cpu = time.process_time() - t1
    return {"cores": cpu / seconds_of_video, "frames": n, "aiortc_cores": aiortc_cpu / seconds_of_video}


def floor_bench(thumb: tuple[list[bytes], int], large: tuple[list[bytes], int], opus: list[bytes],
                program: list[np.ndarray], sites: int, seconds_of_video: float = 4.0) -> dict[str, float]:
    """What any MCU must spend for this briefing, in cores (issue 17, point 3).

    Decoding every incoming stream once (sites-1 thumbnails and the holder's
    picture, each ``(loop, fps)`` as the main window had them; every site's Opus), one plain encode of the program (the
    caller's ``encode_bench``), and SRTP-protecting the program's RTP packets
    (video and the common mix) once per site, with aiortc's negotiated profile.
    Process CPU per second of media; the hub is stopped while this runs.
    """
    import pylibsrtp
    from aiortc.rtcdtlstransport import SRTP_PROFILES
    from aiortc.rtp import RtpPacket

    from hub.media.encoder import TIME_BASE, PackedFrame, SharedVideoEncoder

    program = program or [np.zeros((1080, 1280), dtype=np.uint8)]

    def decode_cpu(loop: list[bytes], codec: str, frames: int) -> float:
        ctx: Any = av.CodecContext.create(codec, "r")
        t0 = time.process_time()
        for i in range(frames):
            list(ctx.decode(av.Packet(loop[i % len(loop)])))
        return time.process_time() - t0

    # one decoder per stream is the same work as one decoder fed N times as much: time one, scale
    thumb_s = decode_cpu(thumb[0], "h264", int(thumb[1] * seconds_of_video)) / seconds_of_video
    large_s = decode_cpu(large[0], "h264", int(large[1] * seconds_of_video)) / seconds_of_video
    opus_s = decode_cpu(opus, "opus", int(50 * seconds_of_video)) / seconds_of_video
    decode = thumb_s * (sites - 1) + large_s + opus_s * sites

    # the program's RTP packets for seconds_of_video, as the hub packetises them
    enc = SharedVideoEncoder(1280, 720, LARGE[2], kbps=2500)
    rtp: list[bytes] = []
    for i in range(int(LARGE[2] * seconds_of_video)):
        frame = av.VideoFrame.from_ndarray(program[i % len(program)], format="yuv420p")
        frame.pts = i * VIDEO_CLOCK // LARGE[2]
        frame.time_base = TIME_BASE
        for packet in enc.ctx.encode(frame):
            packet.pts, packet.time_base = frame.pts, TIME_BASE
            for payload in PackedFrame.video(packet).payloads:
                rtp.append(RtpPacket(payload_type=102, sequence_number=(len(rtp)) & 0xFFFF,
                                     timestamp=int(frame.pts), ssrc=1234, payload=payload).serialize())
    for n, payload in enumerate(opus[: int(50 * seconds_of_video)]):
        rtp.append(RtpPacket(payload_type=111, sequence_number=n, timestamp=n * 960, ssrc=5678,
                             payload=payload).serialize())
    profile = SRTP_PROFILES[0]
    sessions = []
    for _ in range(sites):
        policy = pylibsrtp.Policy(key=os.urandom(profile.key_length + profile.salt_length),
                                  ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                  srtp_profile=profile.libsrtp_profile)
        policy.allow_repeat_tx = True
        sessions.append(pylibsrtp.Session(policy))
    t0 = time.process_time()
    for session in sessions:
        for data in rtp:
            session.protect(data)
    per_packet = (time.process_time() - t0) / max(1, len(rtp) * len(sessions))
    return {"decode_cores": decode, "srtp_s_per_packet": per_packet}


# --- orchestrator -----------------------------------------------------------------------------


def district_names(count: int) -> list[tuple[str, str]]:
    from hub.inventory.loader import load_inventory
    from hub.settings import default_inventory_path

    try:
        inv = load_inventory(default_inventory_path())
        rows = [(d.code, d.name_th) for d in inv.districts]  # type: ignore[attr-defined]
    except Exception:
        rows = []
    if len(rows) < count:
        rows = [(f"UDN{i:02d}", f"อำเภอ {i}") for i in range(1, count + 1)]
    return rows[:count]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    from hub.conferences.conference import Conference
    from hub.conferences.floor import Actor
    from hub.media import channel
    from hub.media.client import MediaWorker

    districts = district_names(args.sites)
    codes = [c for c, _ in districts]
    names = dict(districts)
    holder = codes[0]
    first_video: dict[str, float] = {}
    lost: list[str] = []
    t_start = time.monotonic()

    async def on_event(event: channel.Event) -> None:
        if isinstance(event, channel.FirstVideo):
            first_video.setdefault(event.site, time.monotonic())
        elif isinstance(event, channel.SiteError):
            print("hub:", event.message, file=sys.stderr)
        elif isinstance(event, channel.SiteState) and event.state in ("failed", "closed"):
            # the hub's peer connection to this district ended (ICE consent lost or DTLS closed)
            lost.append(event.site)
            print(f"hub: {event.site} connection {event.state} at {time.monotonic() - t_start:.1f} s",
                  file=sys.stderr)

    worker = MediaWorker(width=LARGE[0], height=LARGE[1], fps=LARGE[2], kbps=2500, on_event=on_event)
    await worker.start()
    if args.hub_nice:
        # On a shared box the hub must not lose the CPU to its own load generators
        # (or to anything else): give its scheduling priority a head start.
        psutil.Process(worker.pid).nice(args.hub_nice)
    conf = Conference(id=1, title="bench", province=codes[0], participants=codes, layout="1+N")
    conf.give_floor(holder, Actor.of_chair("bench"))
    await worker.request(channel.Scene.model_validate(conf.render_state(names)))

    groups = [codes[i :: args.loadgens] for i in range(args.loadgens)]
    procs = []
    for i, group in enumerate(groups):
        measure = [holder] if holder in group else [group[0]]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--loadgen", "--sites-list", ",".join(group), "--measure", ",".join(measure),
            "--holder", holder, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 24)
        procs.append(proc)
        print(f"load generator {i + 1}: {len(group)} districts, decoding at {', '.join(measure)}")

    offers: asyncio.Queue[tuple[Any, dict[str, Any]]] = asyncio.Queue()
    results: list[dict[str, Any]] = []
    encodes: list[dict[str, Any]] = []

    async def read(proc: Any) -> None:
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            msg = json.loads(line)
            if "offer" in msg:
                await offers.put((proc, msg["offer"]))
            elif "result" in msg:
                results.append(msg["result"])
            elif "encode" in msg:
                encodes.append(msg["encode"])
            elif "log" in msg:
                print("load generator:", msg["log"])

    readers = [asyncio.create_task(read(p)) for p in procs]

    hub = psutil.Process(worker.pid)

    async def answer(proc: Any, offer: dict[str, Any]) -> None:
        ans = await worker.request(channel.Offer(site=offer["site"], sdp=offer["sdp"]))
        proc.stdin.write((json.dumps({"answer": {"site": offer["site"], "sdp": ans.sdp, "type": "answer"}}) + "\n")
                         .encode())
        await proc.stdin.drain()

    async def join(batch: list[tuple[Any, dict[str, Any]]]) -> float:
        """Answer a batch of offers at once; seconds until each of them is in the program."""
        sites = [offer["site"] for _, offer in batch]
        t0 = time.monotonic()
        await asyncio.gather(*(answer(proc, offer) for proc, offer in batch))
        deadline = time.monotonic() + 60
        while not all(s in first_video for s in sites) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        missing = [s for s in sites if s not in first_video]
        took = float("nan") if missing else max(first_video[s] for s in sites) - t0
        print(f"{len(sites) - len(missing)}/{len(sites)} districts in the program after {took:.2f} s")
        return took

    async def window(seconds: float, tile: list[int]) -> dict[str, Any]:
        """One measured window: the hub's CPU, every site's fps, the holder's latencies."""
        results.clear()
        before = (await worker.request(channel.GetStats())).model_dump()
        cpu0 = sum(hub.cpu_times()[:2])
        for p in procs:
            p.stdin.write((json.dumps({"window": "start", "tile": tile}) + "\n").encode())
            await p.stdin.drain()
        t0 = time.monotonic()
        samples = []
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(1.0)
            samples.append(hub.cpu_percent(None) / 100)
        cpu1 = sum(hub.cpu_times()[:2])
        span = time.monotonic() - t0
        after = (await worker.request(channel.GetStats())).model_dump()
        for p in procs:
            p.stdin.write(b'{"window": "stop"}\n')
            await p.stdin.drain()
        while len(results) < len(procs):
            await asyncio.sleep(0.05)
        return {"cores": (cpu1 - cpu0) / span, "span": span, "samples": samples, "before": before,
                "after": after, "fps": {s: f for r in results for s, f in r["fps"].items()},
                "lat": [x for r in results for x in r["latencies_ms"]], "results": list(results)}

    def lagging(w: dict[str, Any]) -> str:
        """The hub's view of a window: program frames composed, frames dropped at senders that fell behind."""
        b, a = w["before"], w["after"]
        dropped = sum(v["video_dropped"] - b["sites"].get(k, {}).get("video_dropped", 0)
                      for k, v in a["sites"].items())
        queued = max((v["video_queue"] for v in a["sites"].values()), default=0)
        silent = sorted(k for k, f in w["fps"].items() if f < 1)
        # what the districts' pictures were when they reached the hub, and how often
        sizes: dict[str, list[float]] = {}
        for k, v in a["sites"].items():
            if v.get("size"):
                rate = (v["frames_in"] - b["sites"].get(k, {}).get("frames_in", 0)) / w["span"]
                sizes.setdefault("×".join(map(str, v["size"])), []).append(rate)
        received = ", ".join(f"{len(r)} at {size} ({min(r):.0f}–{max(r):.0f} fps)" for size, r in sorted(sizes.items()))
        return (f"composed {(a['frames_out'] - b['frames_out']) / w['span']:.1f} fps, dropped at senders {dropped}, "
                f"longest send queue {queued}; the hub received {received}"
                + (f", no program at {', '.join(silent)}" if silent else ""))

    def holder_tile(state: dict[str, Any]) -> list[int]:
        t = next((t for t in state["tiles"] if t.get("site") == holder), None)
        return [t["x"], t["y"], t["w"], t["h"]] if t else [0, 0, 1280, 720]

    profiles_now: dict[str, list[int]] = {}

    async def scene(layout: str, participants: list[str]) -> list[int]:
        c = Conference(id=1, title="bench", province=codes[0], participants=participants, layout=layout)
        c.give_floor(holder, Actor.of_chair("bench"))
        state = c.render_state(names)
        await worker.request(channel.Scene.model_validate(state))
        # what the hub's SendProfile would tell each district's agent for this layout
        profiles_now.clear()
        profiles_now.update({s: [pr.width, pr.height, pr.fps] for s, pr in c.profiles().items()})
        for p in procs:
            p.stdin.write((json.dumps({"profiles": profiles_now}) + "\n").encode())
            await p.stdin.drain()
        await asyncio.sleep(1.0)  # the new layout's first frames and keyframe
        return holder_tile(state)

    # Pre-encoding the load is set-up, not joining: a batch's clock starts when its
    # districts' offers are in hand and the hub is asked to take them all.
    ready = [await offers.get() for _ in codes]
    # The cost per added district, in the same run: first half the province (the
    # holder and both decoding receivers among them), measured; then the other half
    # joins the running briefing and the whole province is measured.
    half = codes[: max(1, len(codes) // 2)]
    small_tile = await scene("1+N", half)
    join_half = await join([r for r in ready if r[1]["site"] in half])
    await asyncio.sleep(args.warmup)
    small = await window(args.small_seconds, small_tile)
    extras: dict[str, Any] = {}
    briefing_tmp = tempfile.TemporaryDirectory(prefix="bench-briefing-")
    folder = Path(briefing_tmp.name)
    if not args.districts_only:
        # One clip for both of issue 14's sets of windows, made before either is measured.
        _original, clip, page = await make_clip_and_page(folder, max(3.0, args.clip_seconds) + 6)
        # The same costs at half the province too: where the worker has headroom even on a busy
        # hour (at 20 districts it may sit at its one-core ceiling, and a ratio there is capped).
        extras.update(await in_briefing(args, worker, window, scene, half, lagging, clip, page, "_half"))
    start = time.monotonic()
    main_tile = await scene("1+N", codes)
    join_all = await join([r for r in ready if r[1]["site"] not in half])
    await asyncio.sleep(args.warmup)
    main_w = await window(args.seconds, main_tile)
    main_profiles = dict(profiles_now)
    before, after, span, samples = main_w["before"], main_w["after"], main_w["span"], main_w["samples"]
    cpu0, cpu1 = 0.0, main_w["cores"] * span
    # glass-to-glass per layout, same sites, same run (1+N is the main window)
    layout_p95: dict[str, float] = {"1+N": round(percentile(main_w["lat"], 95), 1)}
    layout_fps: dict[str, float] = {}
    for layout in LAYOUT_WINDOWS:
        w = await window(args.layout_seconds, await scene(layout, codes))
        layout_p95[layout] = round(percentile(w["lat"], 95), 1)
        layout_fps[layout] = round(min(w["fps"].values()), 2)
        print(f"layout {layout}: latency p95 {layout_p95[layout]:.0f} ms ({len(w['lat'])} frames), "
              f"fps min {layout_fps[layout]:.1f}, hub {w['cores']:.2f} cores, {lagging(w)}")
    if not args.districts_only:
        extras.update(await in_briefing(args, worker, window, scene, codes, lagging, clip, page))
    briefing_tmp.cleanup()
    slope = (main_w["cores"] - small["cores"]) / max(1, len(codes) - len(half))
    print(f"{len(half)} districts: hub {small['cores']:.2f} cores, fps min {min(small['fps'].values()):.1f} "
          f"({lagging(small)}); "
          f"{len(codes)} districts: {main_w['cores']:.2f} cores → {slope:.4f} cores per added district")
    print(f"{len(codes)} districts, the main window: {lagging(main_w)}")
    # connections the hub lost while districts were in the briefing (closes at the hub's stop are not drops)
    lost_in_run = sorted(set(lost))
    await worker.stop()
    for p in procs:
        p.stdin.write((json.dumps({"encode_bench": True, "sites": len(codes), "main_profiles": main_profiles}) + "\n")
                      .encode())
        await p.stdin.drain()
    while len(encodes) < len(procs):
        await asyncio.sleep(0.05)
    for p in procs:
        await p.wait()
    for r in readers:
        r.cancel()

    hub_cores = (cpu1 - cpu0) / span
    fps = main_w["fps"]
    lat = main_w["lat"]
    enc = [e for e in encodes if e["frames"]]
    encode_cores = enc[0]["cores"] if enc else float("nan")
    aiortc_cores = enc[0]["aiortc_cores"] if enc else float("nan")
    render_ms = (after["render_wall_s"] - before["render_wall_s"]) * 1000 / max(1, after["frames_out"] - before["frames_out"])
    out_fps = (after["frames_out"] - before["frames_out"]) / span
    print(f"window: {span:.1f} s, program {out_fps:.1f} fps composed at the hub; "
          f"load average during the run {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"hub media worker CPU: {hub_cores:.2f} cores (per-second max {max(samples, default=0):.2f})")
    print(f"compose + encode per program frame at the hub: {render_ms:.1f} ms wall; "
          f"plain 720p encode of the received program: {encode_cores:.2f} cores")
    print(f"ratio hub / plain encode: {hub_cores / encode_cores:.2f} "
          f"(for context: aiortc's own encoder, default preset, on the same frames: {aiortc_cores:.2f} cores, "
          f"ratio {hub_cores / aiortc_cores:.2f})")
    dropped = sum(v.get("video_dropped", 0) for v in after["sites"].values())
    laggards = {k: v.get("video_dropped") for k, v in after["sites"].items() if v.get("video_dropped")}
    if laggards:
        print(f"senders that fell behind (frames dropped, restarted at a keyframe): {laggards}")
    late = sorted(first_video.items(), key=lambda kv: kv[1])[-3:]
    print("last to appear: " + ", ".join(f"{k} {v - start:.2f} s" for k, v in late))
    print(f"keyframes sent {after['keyframes'] - before['keyframes']} "
          f"(requests {after['keyframe_requests'] - before['keyframe_requests']}); "
          f"program frames dropped at lagging senders: {dropped}")
    print(f"program fps at sites: min {min(fps.values()):.1f}, median {statistics.median(fps.values()):.1f}")
    print(f"glass-to-glass latency ({len(lat)} frames): p50 {percentile(lat, 50):.0f} ms, "
          f"p95 {percentile(lat, 95):.0f} ms")
    floor = enc[0].get("floor") if enc else None
    # the program's packet rate as the sites counted it (video) plus the mix's 50 Opus packets/s
    rate = max((r.get("video_packets_per_s", 0.0) for r in main_w["results"]), default=0.0) + 50
    srtp_cores = floor["srtp_s_per_packet"] * rate * len(codes) if floor else float("nan")
    floor_cores = (floor["decode_cores"] + srtp_cores + encode_cores) if floor else float("nan")
    if floor:
        print(f"floor (any MCU): decode every stream once {floor['decode_cores']:.3f} + one plain encode "
              f"{encode_cores:.3f} + SRTP per site {srtp_cores:.3f} "
              f"({rate:.0f} packets/s × {len(codes)} sites) = {floor_cores:.3f} cores; "
              f"the hub is {hub_cores / floor_cores:.1f}× the floor")
    print(f"latency p95 per layout (ms): {layout_p95}")
    return {
        "sites": len(codes),
        "hub_cpu_cores": round(hub_cores, 3),
        "cores_per_site": round(slope, 4),
        "floor_cores": round(floor_cores, 3),
        "encode_cpu_cores": round(encode_cores, 3),
        "ratio": round(hub_cores / encode_cores, 2),
        "fps_min": round(min(fps.values()), 2),
        "fps_median": round(statistics.median(fps.values()), 2),
        "latency_p50_ms": round(percentile(lat, 50), 1),
        "latency_p95_ms": round(percentile(lat, 95), 1),
        "join_all_s": round(join_all, 2),
        "join_half_s": round(join_half, 2),
        "connections_lost": lost_in_run,
        "sites_small": len(half),
        "hub_cpu_cores_small": round(small["cores"], 3),
        "latency_p95_ms_by_layout": layout_p95,
        "fps_min_by_layout": layout_fps,
        **extras,
    }


async def in_briefing(args: argparse.Namespace, worker: Any, window: Any, scene: Any,
                      codes: list[str], lagging: Any, clip: Path, page: Path, suffix: str = "") -> dict[str, Any]:
    """Issue 14 in the briefing of ``codes``: the clip (its playout) against a still page
    (presentation), recording on against off (1+N, off before and after), adjacent windows of
    the same worker. The worker also serves every district meanwhile, so each window's fps min
    says whether the added work was absorbed or squeezed the program (a squeezed window
    understates a cost). Keys end in ``suffix``."""
    from hub.media import channel

    seconds = max(3.0, args.clip_seconds)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        tile = await scene("presentation", codes)
        await worker.request(channel.ContentShow(conference_id=1, version=1, image=str(page), keyframe=True))
        await asyncio.sleep(1.0)
        still = await window(seconds, tile)
        await worker.request(channel.ContentShow(
            conference_id=1, version=2, image=str(page), keyframe=True,
            clip=channel.ContentClip(path=str(clip), duration_s=seconds + 6, position_s=0.0, at=time.monotonic(),
                                     playing=True)))
        await asyncio.sleep(1.0)
        playing = await window(seconds, tile)
        await worker.request(channel.ContentShow(conference_id=1, version=3))
        tile = await scene("1+N", codes)
        off1 = await window(seconds, tile)
        await worker.request(channel.StartRecording(recording_id=1, mp4=f"{tmp}/r.mp4"))
        await asyncio.sleep(1.0)
        on = await window(seconds, tile)
        info = await worker.request(channel.StopRecording(recording_id=1))
        await asyncio.sleep(1.0)
        off2 = await window(seconds, tile)

    def fps(w: dict[str, Any]) -> float:
        return round(min(w["fps"].values()), 2)

    off = (off1["cores"] + off2["cores"]) / 2
    for name, w in (("still page", still), ("clip", playing), ("recording off", off1), ("recording on", on)):
        low = sorted(w["fps"].items(), key=lambda kv: kv[1])[:3]
        print(f"  {name}: {lagging(w)}; lowest fps " + ", ".join(f"{k} {v:.1f}" for k, v in low)
              + f"; keyframes {w['after']['keyframes'] - w['before']['keyframes']}")
    print(f"in the {len(codes)}-district briefing, presentation: still page {still['cores']:.3f} cores "
          f"(fps min {fps(still):.1f}), clip playing {playing['cores']:.3f} cores (fps min {fps(playing):.1f})")
    print(f"in the {len(codes)}-district briefing, 1+N: recording off {off1['cores']:.3f} / {off2['cores']:.3f} cores "
          f"(fps min {fps(off1):.1f} / {fps(off2):.1f}), on {on['cores']:.3f} cores (fps min {fps(on):.1f}); "
          f"recorder thread {info.cpu_s / max(1e-6, info.duration_s):.4f} cores")
    out[f"clip_cpu_ratio{suffix}"] = round(playing["cores"] / max(1e-6, still["cores"]), 3)
    out[f"clip_fps_min{suffix}"] = fps(playing)
    out[f"recording_cpu_ratio{suffix}"] = round(on["cores"] / max(1e-6, off), 3)
    out[f"recording_fps_min{suffix}"] = fps(on)
    # A worker at its one-core ceiling cannot show an added cost in its CPU: the program pays
    # instead (fps below 24 in a window). Such a ratio is a floor, not the cost; said so.
    capped = min(fps(still), fps(playing), fps(off1), fps(on), fps(off2)) < 24
    out[f"ratios_capped{suffix}"] = capped
    if capped:
        print(f"  at {len(codes)} districts the worker was saturated (a window's fps min under 24): "
              "these two ratios understate the costs")
    return out


async def make_clip_and_page(folder: Path, seconds: float) -> tuple[Path, Path, Path]:
    """A 720p H.264/AAC clip (FFmpeg test sources: moving picture, 1 kHz tone), the playout the
    hub makes of it at upload (hub.content.service.Converter.clip_playout, the content tile's
    960x540) and a still page PNG."""
    from PIL import Image

    from hub.content.service import Converter

    clip, playout, page = folder / "clip.mp4", folder / "playout.mp4", folder / "page.png"
    made = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
        f"testsrc2=size=1280x720:rate=25:duration={seconds}", "-f", "lavfi", "-i",
        f"sine=frequency=1000:duration={seconds}", "-c:v", "libx264", "-preset", "veryfast",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip))
    if await made.wait() != 0:
        raise SystemExit("ffmpeg could not make the bench clip")
    await Converter("soffice").clip_playout(clip, playout, 960, 540, seconds, time.monotonic() + 120,
                                            lambda *_: None)
    Image.new("RGB", (960, 540), (16, 128, 224)).save(page)
    return clip, playout, page


async def clip_bench(args: argparse.Namespace) -> dict[str, float]:
    """Issue 14: the media worker's CPU with a content clip playing vs a still page, same worker, same run.

    Presentation layout, the program at 1280x720; a 720p H.264/AAC clip (FFmpeg test sources)
    decoded into the content tile with its sound in the mix. Returns clip CPU / page CPU and the
    cores the clip adds (the same cores over a 20-district run's CPU is the ratio there).
    """
    import psutil

    from hub.conferences.conference import Conference
    from hub.media import channel
    from hub.media.client import MediaWorker

    window = max(3.0, args.clip_seconds)
    with tempfile.TemporaryDirectory(prefix="bench-clip-") as tmp:
        original, playout, page = await make_clip_and_page(Path(tmp), 2 * window + 8)
        worker = MediaWorker(width=LARGE[0], height=LARGE[1], fps=LARGE[2], kbps=2500)
        await worker.start()
        try:
            conf = Conference(id=1, title="bench", province="UDN00", participants=["UDN00", "UDN01"],
                              layout="presentation")
            await worker.request(channel.Scene.model_validate(conf.render_state({})))
            proc = psutil.Process(worker.pid)

            async def cpu(seconds: float) -> float:
                t0, c0 = time.monotonic(), sum(proc.cpu_times()[:2])
                await asyncio.sleep(seconds)
                return (sum(proc.cpu_times()[:2]) - c0) / (time.monotonic() - t0)

            async def play(clip: Path, version: int) -> float:
                await worker.request(channel.ContentShow(
                    conference_id=1, version=version, image=str(page),
                    clip=channel.ContentClip(path=str(clip), duration_s=2 * window + 8, position_s=0.0,
                                             at=time.monotonic(), playing=True)))
                await asyncio.sleep(1.0)
                return await cpu(window)

            await worker.request(channel.ContentShow(conference_id=1, version=1, image=str(page), keyframe=True))
            await asyncio.sleep(1.0)
            still = await cpu(window)
            # What the hub plays (the playout made at upload), then the uploaded 720p original as
            # the worker played it before playouts: adjacent windows of one worker.
            playing = await play(playout, 2)
            raw = await play(original, 3)
        finally:
            await worker.stop()
    print(f"media worker CPU, presentation layout at {LARGE[0]}x{LARGE[1]}: still page {still:.3f} cores, "
          f"clip playing {playing:.3f} cores (its 960x540 playout), {raw:.3f} cores (the 720p original)")
    return {"clip_cpu_ratio_empty": round(playing / max(1e-6, still), 3), "clip_added_cores": round(playing - still, 3),
            "clip_cpu_ratio_original_empty": round(raw / max(1e-6, still), 3)}


async def recording_bench(args: argparse.Namespace) -> dict[str, float]:
    """Issue 14: the media worker's CPU with recording on vs off, same worker, same run.

    The program at 1280x720 25 fps in the 1+N layout with two local districts sending
    640x360 pictures and tones (aiortc endpoints in this process, so their cost is not
    the worker's). Windows: off, on (MP4 remux of the shared encoder's packets + AAC of
    the full mix, written to a temporary directory), off again; the ratio is on / the mean
    of the two off windows, so a drifting load shows in neither alone. The MP3 is made
    afterwards by the hub, outside the worker (hub.recording.service.make_mp3): its CPU per
    recorded minute is printed beside.
    """
    import resource

    import psutil

    from hub.conferences.conference import Conference
    from hub.media import channel
    from hub.media.client import MediaWorker
    from site_agent.media.endpoint import MediaEndpoint, Profile

    window = max(3.0, args.record_seconds)
    sites = {"UDN00": ((220, 30, 30), 440.0), "UDN01": ((30, 200, 30), 730.0)}
    worker = MediaWorker(width=LARGE[0], height=LARGE[1], fps=LARGE[2], kbps=2500)
    await worker.start()
    endpoints: list[MediaEndpoint] = []
    try:
        conf = Conference(id=1, title="bench", province="UDN00", participants=list(sites), layout="1+N")
        conf.unmute_all("bench")
        await worker.request(channel.Scene.model_validate(conf.render_state({c: c for c in sites})))
        for code, (colour, hz) in sites.items():
            ep = MediaEndpoint(code, colour=colour, tone_hz=hz)
            offer = await ep.offer(Profile(640, 360, 25))
            answer = await worker.request(channel.Offer(site=code, sdp=offer["sdp"], sdp_type=offer["type"]))
            await ep.answer(answer.sdp)
            endpoints.append(ep)
        await asyncio.sleep(3.0)
        proc = psutil.Process(worker.pid)

        async def cpu(seconds: float) -> float:
            t0, c0 = time.monotonic(), sum(proc.cpu_times()[:2])
            await asyncio.sleep(seconds)
            return (sum(proc.cpu_times()[:2]) - c0) / (time.monotonic() - t0)

        with tempfile.TemporaryDirectory(prefix="bench-rec-") as tmp:
            off1 = await cpu(window)
            await worker.request(channel.StartRecording(recording_id=1, mp4=f"{tmp}/r.mp4"))
            await asyncio.sleep(1.0)
            on = await cpu(window)
            info = await worker.request(channel.StopRecording(recording_id=1))
            await asyncio.sleep(1.0)
            off2 = await cpu(window)
            written = sum(p.stat().st_size for p in Path(tmp).iterdir())
            from hub.recording.service import make_mp3

            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            why = await make_mp3(Path(tmp) / "r.mp4", Path(tmp) / "r.mp3", 120)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            mp3_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    finally:
        for ep in endpoints:
            await ep.close()
        await worker.stop()
    off = (off1 + off2) / 2
    print(f"media worker CPU at {LARGE[0]}x{LARGE[1]} {LARGE[2]} fps, 2 districts: recording off {off1:.3f} / "
          f"{off2:.3f} cores, on {on:.3f} cores ({info.video_packets} packets, {info.duration_s:.1f} s, "
          f"{written / 1e6:.1f} MB written)")
    # The recorder thread's own CPU (thread_time in the worker): the part of the difference that is
    # not load noise. The taps (a bytes copy per packet, a numpy copy per 20 ms) are not in it.
    thread_cores = info.cpu_s / max(1e-6, info.duration_s)
    print(f"recorder thread: {info.cpu_s:.3f} s CPU over {info.duration_s:.1f} s = {thread_cores:.4f} cores")
    mp3_per_min = mp3_cpu / max(1e-6, info.duration_s) * 60
    print(f"the MP3 made after, by the hub (nice 10): {mp3_cpu:.3f} s CPU = {mp3_per_min:.2f} s per recorded "
          f"minute{' — FAILED: ' + why if why else ''}")
    return {"recording_cpu_ratio_2_sites": round(on / max(1e-6, off), 3), "recording_added_cores": round(on - off, 3),
            "recording_thread_cores": round(thread_cores, 4), "mp3_after_cpu_s_per_min": round(mp3_per_min, 2),
            "recording_cpu_ratio_thread": round((off + thread_cores) / max(1e-6, off), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--loadgens", type=int, default=2, help="load-generator processes")
    parser.add_argument("--layout-seconds", dest="layout_seconds", type=float, default=6.0,
                        help="window per extra layout (speaker, 4x5, presentation) for latency p95")
    parser.add_argument("--small-seconds", dest="small_seconds", type=float, default=15.0,
                        help="window with half the districts (the cost per added district)")
    parser.add_argument("--hub-nice", type=int, default=0,
                        help="niceness for the hub's media worker (e.g. -5; needs root)")
    parser.add_argument("--clip-seconds", dest="clip_seconds", type=float, default=8.0,
                        help="window each for a still page and a playing clip (clip_cpu_ratio and its context)")
    parser.add_argument("--clip-only", dest="clip_only", action="store_true",
                        help="measure only the clip and recording beside small workers of their own (no districts)")
    parser.add_argument("--record-seconds", dest="record_seconds", type=float, default=8.0,
                        help="window each for recording off, on, off (recording_cpu_ratio and its context)")
    parser.add_argument("--districts-only", dest="districts_only", action="store_true",
                        help="measure only the districts' run (skip the clip and recording windows)")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sites-list", dest="sites_list", default="", help=argparse.SUPPRESS)
    parser.add_argument("--measure", default="", help=argparse.SUPPRESS)
    parser.add_argument("--holder", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        args.sites = args.sites_list
        asyncio.run(loadgen(args))
        return
    result: dict[str, Any] = {} if args.clip_only else asyncio.run(orchestrate(args))
    if args.districts_only:
        print(json.dumps(_finite(result)))
        return
    # Issue 14 beside small workers of their own: what the clip and the recording cost with no
    # districts to serve (context for the in-briefing ratios above, and --clip-only's figures).
    result.update(asyncio.run(clip_bench(args)))
    result.update(asyncio.run(recording_bench(args)))
    # A layout whose window saw no barcode has no latency: null, never NaN (not JSON).
    print(json.dumps(_finite(result)))


if __name__ == "__main__":
    main()
