#!/usr/bin/env python3
"""Guests and browser districts (issue 15): what each browser guest costs the media worker,
and how long a guest waits from opening the link to the program playing.

    .venv/bin/python scripts/bench_guests.py            # 20 districts, 10 guests, 5 in Chromium

A real hub (the app on a loopback port, its scheduler, its media worker process) opens a
briefing of 20 districts at T0. Districts join from their district links, guests from the guest
link, each the way the join page does it: GET the link (the page and its CSRF token), POST the
passcode and name while the offer gathers, POST the WebRTC offer, wait for the program's first
decoded picture ("playing"). Most guests are aiortc peers that behave like a browser: they send
the camera as H.264 (a pre-encoded loop at the send profile the hub answers with, so no encode
cost lands in this process) and Opus, and after the first decoded frame only count the
program's RTP packets, as bench_mcu's districts do.

Stages, each CPU window read from the worker's process (psutil) with its program frame rate,
the peers connected and the round trip of a stats request through the hub:
  1. ``--low-districts`` (5) districts alone, then with the N guests, who then leave: the cost of
     a guest where the worker is below its ceiling;
  2. all the districts alone, then with N new guests (their join times are the figure);
  3. ``--browsers`` guests in headless Chromium (fake camera and microphone) through the real
     join page, one at a time, with the load still on: the page's own marks (guest.js
     ``salaklangProgram.phases``) give each join's critical path, phase by phase.

A window is *saturated* when the program fell below 95 % of its frame rate or the worker used
≥ 0.9 cores (its interpreter's ceiling): a worker that cannot take more work shows no cost for
a guest, so no per-guest figure is computed from such a window (``null``). The JSON line (last)
has ``guests``, ``join_p95_s`` (every guest join of stage 2 and 3) and ``cpu_per_guest_cores``:
at all the districts if the worker had room there, else at ``cpu_per_guest_at_districts``;
``worker_saturated`` says whether the 20-district windows were. Targets (issue 15): join ≤ 3 s,
≤ 0.03 cores per guest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import logging
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import av
import numpy as np
import psutil
import uvloop
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

from hub.app import create_app
from hub.control.registry import REGISTRY
from hub.keys import ENGINE
from hub.media.encoder import SharedVideoEncoder, h264_codecs, route_keyframe_requests
from hub.media.mixer import CHUNK, OpusStream
from hub.settings import Settings
from hub.web.auth import create_api_token, create_operator
from site_agent.rtc.config import rtc_configuration

VIDEO_CLOCK = 90_000
SATURATED_CORES = 0.9
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"]
BKK = ZoneInfo("Asia/Bangkok")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- what a browser sends: pre-encoded loops -------------------------------------------------------


def camera_loop(width: int, height: int, fps: int, frames: int, colour: tuple[int, int, int]) -> list[bytes]:
    """H.264 (Constrained Baseline, as a browser's camera) starting at a keyframe, encoded once."""
    enc = SharedVideoEncoder(width, height, fps, kbps=300, gop_s=1.0)
    out: list[bytes] = []
    for i in range(frames):
        rgb = np.empty((height, width, 3), dtype=np.uint8)
        rgb[:] = colour
        x = (i * 6) % max(1, width - width // 6)
        rgb[height // 3: height // 3 + height // 6, x: x + width // 6] = (240, 240, 240)
        out.append(b"".join(bytes(p) for p in enc.encode(rgb, i * VIDEO_CLOCK // fps)))
    return out


def opus_loop(hz: float, packets: int = 50) -> list[bytes]:
    enc = OpusStream(layout="stereo")  # as an agent's aiortc sends
    out: list[bytes] = []
    n = 0
    while len(out) < packets:
        t = (n * CHUNK + np.arange(CHUNK)) / 48_000
        out += [bytes(p) for p in enc.encode((np.sin(2 * np.pi * hz * t) * 6000).astype(np.float32), n * CHUNK)]
        n += 1
    return out


class LoopTrack(MediaStreamTrack):
    def __init__(self, kind: str, loop: list[bytes], rate: float, clock: int) -> None:
        super().__init__()
        self.kind = kind
        self.loop, self.rate, self.clock = loop, rate, clock
        self.n = 0
        self.pos = 0
        self.start: float | None = None

    def restart(self) -> None:
        self.pos = 0  # the loop starts with a keyframe: a PLI is answered with it

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.n / self.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self.loop[self.pos % len(self.loop)])
        packet.pts = int(self.n * self.clock / self.rate)
        packet.time_base = fractions.Fraction(1, self.clock)
        self.n += 1
        self.pos += 1
        return packet


# --- one browser -------------------------------------------------------------------------------------


class BrowserPeer:
    """The join page's steps, over HTTP and WebRTC, with its own cookie jar."""

    def __init__(self, base: str, camera: list[bytes], camera_fps: int, opus: list[bytes]) -> None:
        self.base = base
        self.camera, self.camera_fps, self.opus = camera, camera_fps, opus
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.pc: RTCPeerConnection | None = None
        self.playing = asyncio.Event()
        self.rtp = 0
        self.profile: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.steps: dict[str, float] = {}  # seconds since the link was opened, per step
        self._leave: tuple[str, dict[str, str]] | None = None

    async def join(self, link: str, passcode: str, name: str, organisation: str) -> float:
        t0 = time.monotonic()
        async with self.http.get(link) as resp:
            page = await resp.text()
            assert resp.status == 200, (resp.status, page[:300])
        csrf = re.search(r'data-csrf="([^"]+)"', page)
        assert csrf is not None
        headers = {"X-CSRF-Token": csrf.group(1)}
        m = re.match(r".*/briefings/(\d+)(?:/district/(\w+))?\?k=(.+)$", link)
        assert m is not None
        occ, district, token = m.group(1), m.group(2) or "", m.group(3)
        api = f"{self.base}/api/v1/join/{occ}"
        body = {"k": token, "district": district, "passcode": passcode, "name": name, "organisation": organisation}

        async def passcode_check() -> None:
            async with self.http.post(api, json=body, headers=headers) as resp:
                joined = await resp.json()
                assert resp.status == 200 and joined["status"] == "admitted", joined
            self.steps["joined"] = time.monotonic() - t0

        self._leave = (f"{api}/me/leave", headers)
        pc = RTCPeerConnection(rtc_configuration())  # as the page: no STUN server to wait for
        self.pc = pc
        camera = LoopTrack("video", self.camera, self.camera_fps, VIDEO_CLOCK)
        video = pc.addTransceiver(camera, direction="sendrecv")
        video.setCodecPreferences(h264_codecs())
        route_keyframe_requests(video.sender, camera.restart)
        pc.addTransceiver(LoopTrack("audio", self.opus, 50, 48_000), direction="sendrecv")

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._task = asyncio.ensure_future(self._first_frame(track, video.receiver))

        async def make_offer() -> None:
            await pc.setLocalDescription(await pc.createOffer())
            self.steps["offer"] = time.monotonic() - t0

        # As the page: the offer is gathered while the hub checks the passcode.
        await asyncio.gather(passcode_check(), make_offer())

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected":
                self.steps["connected"] = time.monotonic() - t0

        async with self.http.post(f"{api}/me/offer", json={"type": "offer", "sdp": pc.localDescription.sdp},
                                  headers=headers) as resp:
            answer = await resp.json()
            assert resp.status == 200, answer
        self.steps["answer"] = time.monotonic() - t0
        self.profile = answer.get("send_profile") or {}
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        await asyncio.wait_for(self.playing.wait(), 60)
        self.steps["playing"] = time.monotonic() - t0
        return self.steps["playing"]

    async def _first_frame(self, track: MediaStreamTrack, receiver: Any) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            await track.recv()  # decoded: the program is playing
            self.playing.set()

            # From here on only count the program's packets (no decode cost in this process).
            async def count(packet: Any, arrival_time_ms: int) -> None:
                self.rtp += 1

            receiver._handle_rtp_packet = count

    async def leave(self) -> None:
        """What the page's Leave button does: the hub takes the guest out of the briefing."""
        if self._leave is not None:
            url, headers = self._leave
            async with self.http.post(url, headers=headers) as resp:
                await resp.read()
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.pc is not None:
            await self.pc.close()
        await self.http.close()


# --- the run -------------------------------------------------------------------------------------------


def worker_cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


async def window(pid: int, seconds: float) -> float:
    """The worker's CPU over ``seconds``, in cores."""
    c0, t0 = worker_cpu(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (worker_cpu(pid) - c0) / (time.monotonic() - t0)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def _until_eof() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.readline():
        pass


async def serve(args: argparse.Namespace) -> None:
    """The hub in a process of its own (as in production): prints its token, runs until stdin closes."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-guests-"))
    settings = Settings(data_dir=tmp / "hub", host="127.0.0.1", port=args.port, smtp_port=free_port(),
                        media_width=args.width, media_height=args.height, media_fps=args.fps,
                        guests_attempts_per_address=1000, guests_attempts_per_briefing=1000)
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    engine = app[ENGINE]
    await asyncio.to_thread(create_operator, engine, "bench", "bench-password-1", "operator")
    token = await asyncio.to_thread(create_api_token, engine, "bench", "bench")
    districts = sorted(c for c, live in app[REGISTRY].live.items() if live.kind == "district")
    print(json.dumps({"token": token, "districts": districts}), flush=True)
    try:
        await _until_eof()
    finally:
        await runner.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)  # the bench hub's database and files (about 5 MB a run)


async def district_load(args: argparse.Namespace) -> None:
    """The districts' browsers in a process of their own: join, report, hold until stdin closes."""
    links = json.loads(args.links)
    thumb = camera_loop(320, 180, 15, 30, (40, 120, 160))
    opus = opus_loop(440.0)
    peers = [BrowserPeer(args.base, thumb, 15, opus) for _ in links]
    try:
        times = await asyncio.gather(*(p.join(link, args.passcode, "", "") for p, link in zip(peers, links, strict=True)))
        print(json.dumps({"joined": list(times)}), flush=True)
        await _until_eof()
    finally:
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.close()


async def _line(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not raw:
            raise RuntimeError("a child process of the bench ended early")
        with contextlib.suppress(ValueError):
            out = json.loads(raw)
            if isinstance(out, dict):
                return out


async def _child(*extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, __file__, *extra, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, limit=1 << 22)


async def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def media_figures(chair: aiohttp.ClientSession, base: str, cid: int) -> dict[str, Any]:
    async with chair.get(f"{base}/api/v1/conferences/{cid}/media") as resp:
        out: dict[str, Any] = await resp.json()
        return out


async def measure(chair: aiohttp.ClientSession, base: str, cid: int, pid: int, seconds: float,
                  fps: int, what: str) -> dict[str, Any]:
    """The worker's cores and program frame rate over one window, and whether it kept up.

    Saturated: the program fell below 95 % of its frame rate, or the worker used ≥ 0.9 of a
    core (its interpreter's ceiling: the event loop and the render thread share one lock; x264's
    own threads add little at ultrafast). A saturated worker cannot take on more work, so a CPU
    difference measured against it is not what a guest costs.
    """
    r0 = time.monotonic()
    f0 = (await media_figures(chair, base, cid))["frames_out"]
    t0 = time.monotonic()
    cores = await window(pid, seconds)
    t1 = time.monotonic()
    after = await media_figures(chair, base, cid)
    rtt = (time.monotonic() - t1 + t0 - r0) / 2
    program_fps = (after["frames_out"] - f0) / (t1 - t0)
    connected = sum(1 for site in after.get("sites", {}).values() if site.get("state") == "connected")
    load = psutil.getloadavg()[0]
    saturated = program_fps < 0.95 * fps or cores >= SATURATED_CORES
    print(f"worker with {what}: {cores:.3f} cores, program {program_fps:.1f} fps, {connected} peers connected, "
          f"stats round trip {rtt * 1000:.0f} ms, load {load:.1f}" + (" — SATURATED" if saturated else ""),
          file=sys.stderr)
    return {"cores": round(cores, 3), "program_fps": round(program_fps, 1), "peers_connected": connected,
            "stats_rtt_s": round(rtt, 3), "load": round(load, 1), "saturated": saturated}


def per_guest(alone: dict[str, Any], with_guests: dict[str, Any], guests: int) -> float | None:
    """(with − without) / N in cores; None when either window had a saturated worker."""
    if alone["saturated"] or with_guests["saturated"] or guests == 0:
        return None
    return round((with_guests["cores"] - alone["cores"]) / guests, 4)


def browser_phases(marks: dict[str, float]) -> dict[str, float]:
    """A browser join's critical path in seconds, from the page's marks (guest.js, ms since the link
    was opened). The phases add up to the join: link opened → page ready, then Join tapped → first
    decoded frame (the bench's typing of the passcode and name is the user's time, not the join's).

    page: navigation → the page's script ran; passcode: Join tapped → the hub's answer (admitted);
    offer_ready: admitted → the offer with its candidates (0 when it was ready before); answer: the
    POST of the offer → the hub's SDP answer; connect: → ICE and DTLS connected; first_frame: →
    the first decoded program frame. camera (Join tapped → getUserMedia done) is off the critical
    path when the page does not wait for it.
    """
    s = {k: v / 1000 for k, v in marks.items()}
    offered = max(s["joined"], s["gathered"])
    connected = min(s["connected"], s["first_frame"])  # the state event may come after the first frame
    out = {
        "page": s["script"], "passcode": s["joined"] - s["submit"], "offer_ready": offered - s["joined"],
        "answer": s["answer"] - offered, "connect": connected - s["answer"],
        "first_frame": s["first_frame"] - connected,
        "join": s["script"] + s["first_frame"] - s["submit"],
    }
    if "media" in s:
        out["camera"] = s["media"] - s["submit"]
    return {k: round(v, 3) for k, v in out.items()}


async def browser_guests(base: str, link: str, passcode: str, count: int) -> tuple[list[dict[str, float]], list[float]]:
    """``count`` guests in Debian's Chromium (headless, fake camera and microphone), one after
    another through the real join page: each joins, plays the program, reads its phases, leaves.
    Returns the phases of those that played, and the seconds after which the others gave up."""
    out: list[dict[str, float]] = []
    failed: list[float] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(count):
                ctx = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                                has_touch=True, locale="th-TH")
                await ctx.grant_permissions(["camera", "microphone"], origin=base)
                page = await ctx.new_page()
                t0 = time.monotonic()
                await page.goto(link)
                await page.fill("#passcode", passcode)
                await page.fill("#name", f"ผู้เข้าร่วมเบราว์เซอร์ {i + 1}")
                await page.fill("#organisation", "หน่วยงานทดสอบ")
                await page.click("#join")
                try:
                    await page.wait_for_function("() => window.salaklangProgram.phases.first_frame !== undefined",
                                                 timeout=60_000)
                except PlaywrightTimeout:
                    failed.append(time.monotonic() - t0)
                    print(f"browser guest {i + 1}: no program after {failed[-1]:.0f} s", file=sys.stderr)
                    await ctx.close()
                    continue
                marks = await page.evaluate("() => window.salaklangProgram.phases")
                phases = browser_phases(marks)
                print(f"browser guest {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()),
                      file=sys.stderr)
                out.append(phases)
                await page.click("#leave")
                await page.wait_for_selector("#ended[data-state=left]", timeout=10_000)
                await ctx.close()
        finally:
            await browser.close()
    return out, failed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    size = ["--width", str(args.width), "--height", str(args.height), "--fps", str(args.fps)]
    hub = await _child("--serve", "--port", str(port), *size)
    loadgens: list[asyncio.subprocess.Process] = []
    peers: list[BrowserPeer] = []
    try:
        hello = await _line(hub)
        districts = hello["districts"][: args.districts]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {hello['token']}"}) as chair:
            local = datetime.now(UTC).astimezone(BKK)
            body = {"title": "ประชุมติดตามสถานการณ์ (bench)", "organizer_name": "ศาลากลางจังหวัดอุดรธานี",
                    "organizer_email": "control@salaklang.example", "districts": districts,
                    "start_date": local.date().isoformat(), "end_date": local.date().isoformat(),
                    "start_time": f"{local:%H:%M}", "duration_min": 60, "recurrence": "once", "layout": "1+N"}
            async with chair.post(f"{base}/api/v1/series", json=body) as resp:
                series = await resp.json()
                assert resp.status == 201, series
            occ = series["occurrences"][0]["id"]
            async with chair.put(f"{base}/api/v1/series/{series['id']}/guest-policy",
                                 json={"admit_directly": True}) as resp:
                assert resp.status == 200, await resp.text()
            async with chair.get(f"{base}/api/v1/series/{series['id']}/guest-links") as resp:
                links = await resp.json()
            # The scheduler opens the briefing at T0 (this minute) and its conference starts the media worker.
            pid = cid = None
            deadline = time.monotonic() + 60
            while pid is None:
                assert time.monotonic() < deadline, "the briefing did not open at T0"
                await asyncio.sleep(0.3)
                async with chair.get(f"{base}/api/v1/conferences") as resp:
                    rows = await resp.json()
                for row in rows:
                    if row.get("occurrence_id") == occ and row["status"] == "live" and row.get("media", {}).get("running"):
                        pid, cid = row["media"]["pid"], row["id"]
            assert cid is not None
            print(f"briefing {occ} open, media worker pid {pid}", file=sys.stderr)
            passcode = series["passcode"]
            district_links = [next(iter(links[c].values())) for c in districts]
            (guest_link,) = links["guest"].values()
            idle = camera_loop(320, 180, 5, 10, (160, 90, 40))
            opus = opus_loop(523.0)
            sem = asyncio.Semaphore(args.concurrency)
            failed: list[float] = []  # seconds until each failed join gave up

            async def districts_join(part: list[str]) -> list[float]:
                gen = await _child("--district-load", "--base", base, "--passcode", passcode, "--links", json.dumps(part))
                loadgens.append(gen)
                times: list[float] = (await _line(gen))["joined"]
                return times

            async def guests_join() -> list[BrowserPeer]:
                group: list[BrowserPeer] = []

                async def guest(i: int) -> None:
                    async with sem:
                        peer = BrowserPeer(base, idle, 5, opus)
                        peers.append(peer)
                        t0 = time.monotonic()
                        try:
                            await peer.join(guest_link, passcode, f"ผู้เข้าร่วม {i + 1}", "หน่วยงานทดสอบ")
                        except (AssertionError, TimeoutError, aiohttp.ClientError) as exc:
                            # A worker too busy to answer in time refuses the offer: counted, not fatal.
                            failed.append(time.monotonic() - t0)
                            print(f"guest {i + 1} did not join: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
                            return
                        group.append(peer)

                await asyncio.gather(*(guest(i) for i in range(args.guests)))
                return group

            async def stage(what: str) -> dict[str, Any]:
                await asyncio.sleep(args.settle)
                return await measure(chair, base, cid, pid, args.seconds, args.fps, what)

            # 1. Below the ceiling: a few districts, then the guests added, then the guests leave.
            low_n = max(0, min(args.low_districts, len(districts)))
            low: dict[str, Any] = {}
            d_times: list[float] = []
            if low_n and args.guests:
                d_times += await districts_join(district_links[:low_n])
                low["alone"] = await stage(f"{low_n} districts")
                group = await guests_join()
                low["with"] = await stage(f"{low_n} districts + {args.guests} guests")
                for peer in group:
                    with contextlib.suppress(Exception):
                        await peer.leave()
            # 2. The case: all the districts, then the guests (their join times are the figure).
            d_times += await districts_join(district_links[low_n:]) if low_n < len(districts) else []
            print(f"{len(districts)} districts playing (join p95 {percentile(d_times, 95):.2f} s)", file=sys.stderr)
            full: dict[str, Any] = {"alone": await stage(f"{len(districts)} districts")}
            failed_low = len(failed)
            group = await guests_join() if args.guests else []
            # A join that failed counts with the time it took to fail: at least that long.
            join_times = [p.steps["playing"] for p in group] + failed[failed_low:]
            full["with"] = await stage(f"{len(districts)} districts + {args.guests} guests")
            # 3. Guests in Chromium through the real join page, one at a time, with the load still on.
            chromium, browser_failed = (await browser_guests(base, guest_link, passcode, args.browsers)
                                        if args.browsers else ([], []))
        steps = {k: round(statistics.median(p.steps.get(k, float("nan")) for p in group), 3)
                 for k in ("joined", "offer", "answer", "connected", "playing")} if group else {}
        keys = [k for k in chromium[0] if all(k in b for b in chromium)] if chromium else []
        phases = {k: round(statistics.median(b[k] for b in chromium), 3) for k in keys}
        phases_p95 = {k: round(percentile([b[k] for b in chromium], 95), 3) for k in keys}
        browser_times = [b["join"] for b in chromium] + browser_failed
        per_guest_low = per_guest(low["alone"], low["with"], args.guests) if low else None
        per_guest_full = per_guest(full["alone"], full["with"], args.guests)
        # The one figure: at all the districts if the worker had room there, else below its ceiling.
        cpu_per_guest, cpu_at = ((per_guest_full, len(districts)) if per_guest_full is not None
                                 else (per_guest_low, low_n if per_guest_low is not None else None))
        everyone = join_times + browser_times
        return {
            "guests": args.guests, "districts": len(districts),
            "join_p50_s": round(statistics.median(everyone), 3) if everyone else None,
            "join_p95_s": round(percentile(everyone, 95), 3) if everyone else None,
            "join_max_s": round(max(everyone), 3) if everyone else None,
            "cpu_per_guest_cores": cpu_per_guest,
            "cpu_per_guest_at_districts": cpu_at,
            "worker_saturated": bool(full["alone"]["saturated"] or full["with"]["saturated"]),
            "cpu_per_guest_cores_at_full": per_guest_full,
            "cpu_per_guest_cores_at_low": per_guest_low,
            "worker_full": full, "worker_low": low, "low_districts": low_n,
            "aiortc_join_p95_s": round(percentile(join_times, 95), 3) if join_times else None,
            "browser_join_p95_s": round(percentile(browser_times, 95), 3) if browser_times else None,
            "browser_joins_s": browser_times,
            "browser_phases_median_s": phases, "browser_phases_p95_s": phases_p95,
            "aiortc_join_steps_median_s": steps,
            "district_join_p95_s": round(percentile(d_times, 95), 3) if d_times else None,
            "guests_without_program": sum(1 for p in group if p.rtp == 0),
            "guest_joins_failed": len(failed) + len(browser_failed),  # all stages
            "program": f"{args.width}x{args.height}@{args.fps}",
        }
    finally:
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.close()
        for gen in loadgens:
            await _end(gen)
        await _end(hub)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--guests", type=int, default=10, help="browser guests added to the districts")
    ap.add_argument("--districts", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0, help="each CPU window")
    ap.add_argument("--settle", type=float, default=3.0, help="wait after the joins before a window")
    ap.add_argument("--concurrency", type=int, default=4, help="guests opening the link at the same time")
    ap.add_argument("--low-districts", type=int, default=5,
                    help="districts of the first stage, where the worker is below its ceiling (0: skip it)")
    ap.add_argument("--browsers", type=int, default=5,
                    help="guests joining in headless Chromium through the join page, one at a time (0: none)")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=25)
    # the bench's own child processes
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--district-load", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--base", default="", help=argparse.SUPPRESS)
    ap.add_argument("--passcode", default="", help=argparse.SUPPRESS)
    ap.add_argument("--links", default="[]", help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    # The hub runs on asyncio's loop as `hub serve` does (its worker on uvloop, as in production).
    # The browsers' stand-ins run on uvloop: they are many machines in reality, and asyncio's
    # selector loop reads one datagram per socket per turn, so 10 guests receiving the 720p
    # program fell behind their own sockets and timed every later step seconds late.
    if args.serve:
        asyncio.run(serve(args))
    elif args.district_load:
        uvloop.run(district_load(args))
    else:
        print(json.dumps(uvloop.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
