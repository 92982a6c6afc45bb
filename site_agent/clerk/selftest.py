"""The clerk's self-test: ordered checks, each a pass/fail line with a Thai fix sentence.

Order is the order a person would fix things in the meeting room: camera,
microphone, speakers, then the network outwards (hub, link quality, router).
Devices and probes are small protocols so tests hand in synthetic ones; the
real ones live at the bottom of this module (PyAV for capture, the platform
player for the tone, HTTP for the hub, pysnmp for the router).

A check that could not be run (no one at the PC to confirm the tone, no
router configured) is *skipped with a reason*; a skip is never a pass, so the
site is not reported ready.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import aiohttp
import numpy as np
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    get_cmd,
)

from site_agent.devices import (
    AvCamera,
    AvMicrophone,
    Device,
    SystemSpeaker,
    choose_devices,
)
from site_agent.netmon.snmp import SnmpPoller, SnmpState
from site_agent.settings import load_agent_settings

Outcome = Literal["pass", "fail", "skip"]

# Link thresholds from docs: RTT < 100 ms and loss < 1 % are "good" (Teams /
# Cisco interactive-video guidance, ../shared/reference/link-health.md).
DEFAULT_MAX_RTT_MS = 100.0
DEFAULT_MAX_LOSS_PCT = 1.0
# A mic whose level never moves more than this (dB) between quiet and loud
# blocks is dead or muted; speech moves it by 20 dB or more.
MIC_MIN_SWING_DB = 6.0
MIC_FLOOR_DBFS = -70.0


@dataclass(frozen=True)
class CheckResult:
    key: str
    outcome: Outcome
    title_th: str
    title_en: str
    detail: str = ""  # measured figures, for the province's log
    advice_th: str = ""  # what to do, in plain Thai (failures and skips)
    advice_en: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    def line(self, lang: Literal["th", "en"] = "th") -> str:
        mark = {"pass": "✔", "fail": "✘", "skip": "–"}[self.outcome]
        word = {
            "th": {"pass": "ผ่าน", "fail": "ไม่ผ่าน", "skip": "ข้าม"},
            "en": {"pass": "pass", "fail": "FAIL", "skip": "skipped"},
        }[lang][self.outcome]
        title = self.title_th if lang == "th" else self.title_en
        advice = self.advice_th if lang == "th" else self.advice_en
        text = f"{mark} {title}: {word}"
        return f"{text} — {advice}" if advice and not self.passed else text


@dataclass(frozen=True)
class SelfTestReport:
    checks: tuple[CheckResult, ...]
    started_at: float
    duration_s: float

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def reasons(self, lang: Literal["th", "en"] = "th") -> list[str]:
        return [c.line(lang) for c in self.checks if not c.passed]

    def to_result(self) -> dict[str, Any]:
        """The shape sent to the hub (Ack.result of ``selftest`` and the pushed report)."""
        return {
            "ready": self.ready,
            "reasons": self.reasons("th"),
            "reasons_en": self.reasons("en"),
            "checks": [asdict(c) for c in self.checks],
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
        }


# --- devices and probes --------------------------------------------------------


class Camera(Protocol):
    def grab(self, count: int, timeout_s: float) -> list[np.ndarray]:
        """Up to ``count`` RGB frames (H×W×3 uint8); empty if the camera gives nothing."""
        ...


class Microphone(Protocol):
    def levels(self, seconds: float) -> list[float]:
        """Level of successive ~50 ms blocks in dBFS; raises OSError if there is no mic."""
        ...


class Speaker(Protocol):
    def play_tone(self, hz: float, seconds: float) -> None: ...


class LinkProber(Protocol):
    async def probe(self, count: int) -> list[float | None]:
        """One RTT in ms per probe; ``None`` for a probe that got no answer in time."""
        ...


class HubPinger(Protocol):
    async def reachable(self) -> tuple[bool, str]: ...


class RouterPoller(Protocol):
    async def sys_uptime(self) -> int:
        """sysUpTime.0 in hundredths of a second; raises on timeout or SNMP error."""
        ...


Confirm = Callable[[str, str], Awaitable[bool | None]]
"""Ask the clerk a yes/no question (Thai, English). ``None``: nobody can answer (headless)."""

FrameSink = Callable[[np.ndarray], None]
LevelSink = Callable[[float], None]


@dataclass
class SelfTestInputs:
    camera: Camera | None
    microphone: Microphone | None
    speaker: Speaker | None
    hub: HubPinger
    prober: LinkProber
    router: RouterPoller | None
    confirm: Confirm | None = None  # None: headless, the tone check is skipped
    on_frame: FrameSink | None = None  # preview in the clerk window
    on_level: LevelSink | None = None  # mic meter in the clerk window
    probes: int = 20
    max_rtt_ms: float = DEFAULT_MAX_RTT_MS
    max_loss_pct: float = DEFAULT_MAX_LOSS_PCT
    mic_seconds: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)


# --- the checks --------------------------------------------------------------------


async def check_camera(inp: SelfTestInputs) -> CheckResult:
    t_th, t_en = "กล้อง", "Camera"
    if inp.camera is None:
        return CheckResult(
            "camera", "fail", t_th, t_en, "no camera found",
            "ไม่พบกล้อง เสียบสาย USB ของกล้องให้แน่น แล้วกดทดสอบอีกครั้ง",
            "No camera found: plug the camera's USB cable in firmly and test again.",
        )
    try:
        frames = await asyncio.to_thread(inp.camera.grab, 10, 5.0)
    except Exception as exc:  # PyAV raises several families; all mean "no picture"
        frames, err = [], f"{type(exc).__name__}: {exc}"
    else:
        err = ""
    if not frames:
        return CheckResult(
            "camera", "fail", t_th, t_en, f"no frames {err}".strip(),
            "กล้องไม่ส่งภาพ ปิดโปรแกรมอื่นที่ใช้กล้องอยู่ (เช่น Zoom, LINE) หรือถอดแล้วเสียบกล้องใหม่",
            "The camera gives no picture: close other programs using it (Zoom, LINE) or re-plug it.",
        )
    if inp.on_frame is not None:
        inp.on_frame(frames[-1])
    mean = float(np.mean(frames[-1]))
    if mean < 4.0:
        return CheckResult(
            "camera", "fail", t_th, t_en, f"{len(frames)} frames, mean level {mean:.1f} (black)",
            "ภาพจากกล้องมืดสนิท เปิดฝาปิดเลนส์หรือเปิดไฟในห้อง",
            "The picture is black: open the lens cover or switch the room lights on.",
        )
    h, w = frames[-1].shape[:2]
    return CheckResult("camera", "pass", t_th, t_en, f"{len(frames)} frames {w}x{h}")


async def check_microphone(inp: SelfTestInputs) -> CheckResult:
    t_th, t_en = "ไมโครโฟน", "Microphone"
    if inp.microphone is None:
        return CheckResult(
            "microphone", "fail", t_th, t_en, "no microphone found",
            "ไม่พบไมโครโฟน เสียบสายไมค์หรือสาย USB ของลำโพงประชุมให้แน่น",
            "No microphone found: plug in the mic or the conference speakerphone's USB cable.",
        )
    try:
        levels = await asyncio.to_thread(inp.microphone.levels, inp.mic_seconds)
    except Exception as exc:  # PyAV raises several families; all mean "no sound"
        levels, err = [], f"{type(exc).__name__}: {exc}"
    else:
        err = ""
    if inp.on_level is not None:
        for lv in levels:
            inp.on_level(lv)
    if not levels:
        return CheckResult(
            "microphone", "fail", t_th, t_en, f"no audio {err}".strip(),
            "ไมโครโฟนไม่ส่งเสียง ถอดแล้วเสียบใหม่ หรือเลือกไมค์ให้ถูกตัวในหน้าต่างนี้",
            "The microphone gives no sound: re-plug it or pick the right one in this window.",
        )
    swing = max(levels) - min(levels)
    if max(levels) <= MIC_FLOOR_DBFS or swing < MIC_MIN_SWING_DB:
        return CheckResult(
            "microphone", "fail", t_th, t_en,
            f"level {min(levels):.0f}..{max(levels):.0f} dBFS, swing {swing:.1f} dB",
            "ไมค์เงียบ ระดับเสียงไม่ขยับตอนพูด ตรวจปุ่มปิดเสียง (mute) ที่ไมค์ แล้วลองพูดใหม่",
            "The mic is silent: check the mute button on the mic, then speak again.",
        )
    return CheckResult(
        "microphone", "pass", t_th, t_en, f"level {min(levels):.0f}..{max(levels):.0f} dBFS"
    )


async def check_speaker(inp: SelfTestInputs) -> CheckResult:
    t_th, t_en = "ลำโพง", "Speakers"
    if inp.confirm is None:
        return CheckResult(
            "speaker", "skip", t_th, t_en, "headless: nobody to confirm the test tone",
            "ไม่มีคนยืนยันเสียงทดสอบ ให้เจ้าหน้าที่เปิดหน้าต่างโปรแกรมแล้วกดทดสอบอุปกรณ์",
            "Nobody confirmed the test tone: open the agent window and run the test.",
        )
    if inp.speaker is None:
        return CheckResult(
            "speaker", "fail", t_th, t_en, "no audio output",
            "ไม่พบลำโพง เสียบสายลำโพงหรือเปิดสวิตช์ลำโพง",
            "No speakers found: plug in the speakers or switch them on.",
        )
    try:
        await asyncio.to_thread(inp.speaker.play_tone, 440.0, 1.5)
    except OSError as exc:
        return CheckResult(
            "speaker", "fail", t_th, t_en, f"playback failed: {exc}",
            "เล่นเสียงไม่ได้ ตรวจว่าเลือกลำโพงถูกตัวและไม่ได้ปิดเสียงเครื่อง",
            "Could not play sound: check the output device and that the PC is not muted.",
        )
    heard = await inp.confirm("ได้ยินเสียงทดสอบหรือไม่", "Did you hear the test tone?")
    if heard is None:
        return CheckResult(
            "speaker", "skip", t_th, t_en, "no answer to the tone question",
            "ไม่มีผู้ตอบว่าได้ยินเสียงหรือไม่ กดทดสอบอีกครั้งแล้วตอบคำถาม",
            "Nobody answered whether the tone was heard: test again and answer.",
        )
    if not heard:
        return CheckResult(
            "speaker", "fail", t_th, t_en, "clerk did not hear the tone",
            "ไม่ได้ยินเสียง เปิดสวิตช์ลำโพง เพิ่มเสียง และตรวจสายลำโพง",
            "Tone not heard: switch the speakers on, turn the volume up, check the cable.",
        )
    return CheckResult("speaker", "pass", t_th, t_en, "tone heard")


async def check_hub(inp: SelfTestInputs) -> CheckResult:
    t_th, t_en = "ติดต่อจังหวัด", "Province hub"
    ok, detail = await inp.hub.reachable()
    if not ok:
        return CheckResult(
            "hub", "fail", t_th, t_en, detail,
            "ติดต่อเครื่องแม่ข่ายของจังหวัดไม่ได้ ตรวจสายแลน/อินเทอร์เน็ต ถ้ายังไม่ได้ให้โทรแจ้งจังหวัด",
            "Cannot reach the province's hub: check the network cable/internet, then call the province.",
        )
    return CheckResult("hub", "pass", t_th, t_en, detail)


async def check_link(inp: SelfTestInputs) -> CheckResult:
    t_th, t_en = "คุณภาพเครือข่าย", "Link quality"
    rtts = await inp.prober.probe(inp.probes)
    answered = [r for r in rtts if r is not None]
    loss = 100.0 * (len(rtts) - len(answered)) / len(rtts) if rtts else 100.0
    median = statistics.median(answered) if answered else math.inf
    detail = f"{len(rtts)} probes, loss {loss:.1f} %, median RTT {median:.1f} ms"
    if not answered:
        return CheckResult(
            "link", "fail", t_th, t_en, detail,
            "ไม่มีการตอบกลับจากจังหวัดเลย (สูญหาย 100%) ตรวจสายแลนและเราเตอร์ ถ้ายังไม่ได้ให้โทรแจ้งผู้ให้บริการ",
            "No answer from the province at all (100 % loss): check the cable and router, then call the provider.",
        )
    if loss >= inp.max_loss_pct or median > inp.max_rtt_ms:
        return CheckResult(
            "link", "fail", t_th, t_en, detail,
            f"เครือข่ายไม่ดี (สูญหาย {loss:.0f}% หน่วง {median:.0f} มิลลิวินาที) "
            "ปิดการดาวน์โหลดหรือวิดีโออื่นในสำนักงาน รีสตาร์ทเราเตอร์ ถ้ายังไม่ดีให้โทรแจ้งผู้ให้บริการ",
            f"Poor link (loss {loss:.0f} %, delay {median:.0f} ms): stop other downloads/video, "
            "restart the router, then call the provider.",
        )
    return CheckResult("link", "pass", t_th, t_en, detail)


async def check_router(inp: SelfTestInputs) -> CheckResult:
    t_th, t_en = "เราเตอร์ (SNMP)", "Router (SNMP)"
    if inp.router is None:
        return CheckResult(
            "router", "skip", t_th, t_en, "no router SNMP target configured",
            "ยังไม่ได้ตั้งค่าเราเตอร์ในโปรแกรม โทรแจ้งจังหวัดให้ตั้งค่า",
            "The router is not configured in the agent: ask the province to set it up.",
        )
    try:
        ticks = await inp.router.sys_uptime()
    except Exception as exc:  # any SNMP/transport failure is the same advice to a clerk
        return CheckResult(
            "router", "fail", t_th, t_en, f"{type(exc).__name__}: {exc}",
            "เราเตอร์ไม่ตอบ ตรวจว่าเราเตอร์เปิดอยู่และไฟสถานะปกติ ถ้าไฟ LOS เป็นสีแดงให้โทรแจ้งผู้ให้บริการ",
            "The router does not answer: check it is on; a red LOS light means call the provider.",
        )
    return CheckResult("router", "pass", t_th, t_en, f"sysUpTime {ticks / 100:.0f} s")


CHECKS: Sequence[Callable[[SelfTestInputs], Awaitable[CheckResult]]] = (
    check_camera,
    check_microphone,
    check_speaker,
    check_hub,
    check_link,
    check_router,
)


async def run_selftest(
    inp: SelfTestInputs, on_result: Callable[[CheckResult], None] | None = None
) -> SelfTestReport:
    """Run every check in order (a failure does not stop the others: the clerk sees all)."""
    started, t0 = time.time(), time.monotonic()
    results: list[CheckResult] = []
    for check in CHECKS:
        res = await check(inp)
        results.append(res)
        if on_result is not None:
            on_result(res)
    return SelfTestReport(tuple(results), started, time.monotonic() - t0)


# --- synthetic devices (tests, `hub demo`) ------------------------------------------


class SyntheticCamera:
    """A colour-bar source; ``working=False`` behaves like a camera that gives nothing."""

    def __init__(self, working: bool = True, size: tuple[int, int] = (320, 180)) -> None:
        self.working = working
        self.size = size

    def grab(self, count: int, timeout_s: float) -> list[np.ndarray]:
        if not self.working:
            return []
        w, h = self.size
        bars = np.array(
            [[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0], [192, 0, 192], [192, 0, 0], [0, 0, 192]],
            dtype=np.uint8,
        )
        idx = (np.arange(w) * len(bars) // w).astype(np.intp)
        frame = np.broadcast_to(bars[idx][None, :, :], (h, w, 3)).copy()
        return [frame for _ in range(count)]


class SyntheticMicrophone:
    """Speech-like levels (quiet/loud alternating), or a flat floor when ``silent``."""

    def __init__(self, silent: bool = False) -> None:
        self.silent = silent

    def levels(self, seconds: float) -> list[float]:
        blocks = max(1, int(seconds / 0.05))
        if self.silent:
            return [-90.0] * blocks
        return [-55.0 if (i // 4) % 2 == 0 else -18.0 for i in range(blocks)]


class SyntheticSpeaker:
    def __init__(self) -> None:
        self.played: list[tuple[float, float]] = []

    def play_tone(self, hz: float, seconds: float) -> None:
        self.played.append((hz, seconds))


class FixedProber:
    """Returns the given RTTs (``None`` = lost probe), cycling as needed."""

    def __init__(self, rtts: Sequence[float | None]) -> None:
        self.rtts = list(rtts)

    async def probe(self, count: int) -> list[float | None]:
        return [self.rtts[i % len(self.rtts)] for i in range(count)]


# --- real probes -------------------------------------------------------------------


class HttpHub:
    """Hub reachability and RTT probes over HTTP GET ``/healthz`` (what the agent uses anyway)."""

    def __init__(self, hub_url: str, timeout_s: float = 3.0, probe_timeout_s: float = 1.0) -> None:
        self.base = hub_url.rstrip("/")
        self.timeout_s = timeout_s
        self.probe_timeout_s = probe_timeout_s

    async def reachable(self) -> tuple[bool, str]:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as s:
                t0 = time.perf_counter()
                async with s.get(self.base + "/healthz") as resp:
                    await resp.read()
                    ms = (time.perf_counter() - t0) * 1000
                    if resp.status != 200:
                        return False, f"{self.base}/healthz answered HTTP {resp.status}"
                    return True, f"{self.base} HTTP 200 in {ms:.0f} ms"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return False, f"{self.base}: {type(exc).__name__} {exc}".strip()

    async def probe(self, count: int) -> list[float | None]:
        out: list[float | None] = []
        # One connection for all probes: we measure the path, not TCP handshakes.
        conn = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=conn) as s:
            for _ in range(count):
                t0 = time.perf_counter()
                try:
                    async with s.get(
                        self.base + "/healthz",
                        timeout=aiohttp.ClientTimeout(total=self.probe_timeout_s),
                    ) as resp:
                        await resp.read()
                    out.append((time.perf_counter() - t0) * 1000)
                except (aiohttp.ClientError, TimeoutError, OSError):
                    out.append(None)
        return out


class SnmpRouter:
    """sysUpTime.0 by SNMPv2c (pysnmp 7, asyncio)."""

    def __init__(self, host: str, port: int = 161, community: str = "public", timeout_s: float = 1.0) -> None:
        self.host, self.port, self.community, self.timeout_s = host, port, community, timeout_s

    async def sys_uptime(self) -> int:
        engine = SnmpEngine()
        try:
            target = await UdpTransportTarget.create(
                (self.host, self.port), timeout=self.timeout_s, retries=1
            )
            err, status, _index, binds = await get_cmd(
                engine,
                CommunityData(self.community, mpModel=1),
                target,
                ContextData(),
                ObjectType(ObjectIdentity("1.3.6.1.2.1.1.3.0")),
            )
        finally:
            engine.close_dispatcher()
        if err:
            raise TimeoutError(str(err))
        if status:
            raise OSError(f"SNMP error {status.prettyPrint()}")
        return int(binds[0][1])


class PollerRouter:
    """The link-health poller's target (SNMP v2c or v3, secrets resolved) as a self-test router."""

    def __init__(self, target: Any) -> None:
        self.target = target  # site_agent.netmon.snmp.SnmpTarget

    async def sys_uptime(self) -> int:
        poller = SnmpPoller()
        try:
            reading = await poller.poll(self.target)
        finally:
            poller.close()
        if reading.state is not SnmpState.OK or reading.sys_uptime is None:
            raise OSError(f"{reading.state.value}: {reading.detail}".strip(": "))
        return int(reading.sys_uptime)


def real_inputs(
    hub_url: str,
    confirm: Confirm | None,
    router: RouterPoller | None = None,
    on_frame: FrameSink | None = None,
    on_level: LevelSink | None = None,
    preferred: dict[str, str] | None = None,
    synthetic: bool = False,
    devices: Sequence[Device] | None = None,
) -> SelfTestInputs:
    """Inputs for a real PC: the devices the briefing will use (:func:`site_agent.devices.choose_devices`).

    ``synthetic`` (``--demo``) or the ``synthetic_devices`` setting use synthetic media devices. The
    chosen device names are in ``extra["devices"]`` so a passing test can be remembered.
    """
    hub = HttpHub(hub_url)
    speaker: Speaker | None
    camera: Camera | None
    mic: Microphone | None
    chosen: dict[str, str] = {}
    if synthetic or load_agent_settings().synthetic_devices:
        camera, mic, speaker = SyntheticCamera(), SyntheticMicrophone(), SyntheticSpeaker()
    else:
        choice = choose_devices(preferred, devices)
        camera = AvCamera.of(choice.video) if choice.video is not None else None
        mic = AvMicrophone.of(choice.audio) if choice.audio is not None else None
        chosen = choice.names()
        speaker = SystemSpeaker()
    return SelfTestInputs(
        camera=camera, microphone=mic, speaker=speaker, hub=hub, prober=hub, router=router,
        confirm=confirm, on_frame=on_frame, on_level=on_level, extra={"devices": chosen},
    )
