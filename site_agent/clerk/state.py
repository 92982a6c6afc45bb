"""What the clerk sees: the agent's UI state → icon colour, one sentence, notifications.

Pure functions and frozen dataclasses only, so the tray, the clerk window and
the tests all agree on what a given situation looks like. Thai first, English
second; times are shown in Asia/Bangkok.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
REMINDER_BEFORE = timedelta(minutes=10)

Lang = Literal["th", "en"]
LinkLevel = Literal["unknown", "ok", "degraded", "down"]
# "pending": sent, the hub's answer not yet in; the others are the hub's answers
# (site_agent.protocol.FloorStatus), "no_briefing" when no conference is running.
FloorState = Literal["none", "pending", "queued", "granted", "denied", "released", "no_briefing"]


class Colour(StrEnum):
    GREY = "grey"  # not connected to the province
    GREEN = "green"  # connected, devices fine: ready
    AMBER = "amber"  # link degraded
    RED = "red"  # a problem the clerk must act on
    BLUE = "blue"  # in a briefing


# RGB used to draw the tray icon and the window's status dot.
COLOUR_RGB: dict[Colour, tuple[int, int, int]] = {
    Colour.GREY: (128, 128, 128),
    Colour.GREEN: (34, 160, 60),
    Colour.AMBER: (240, 170, 0),
    Colour.RED: (210, 40, 40),
    Colour.BLUE: (30, 100, 220),
}


@dataclass(frozen=True)
class Briefing:
    title_th: str
    title_en: str
    starts_at: datetime  # aware UTC
    key: str = ""


@dataclass(frozen=True)
class UiState:
    """Everything the clerk-facing UI shows; replaced (never mutated) on each change."""

    site_name_th: str = ""
    site_name_en: str = ""
    connected: bool = False
    update_required: str | None = None  # minimum version the hub demands
    in_briefing: bool = False
    link: LinkLevel = "unknown"
    selftest_ready: bool | None = None  # None: not run yet
    selftest_reasons_th: tuple[str, ...] = ()
    selftest_reasons_en: tuple[str, ...] = ()
    floor: FloorState = "none"
    floor_position: int | None = None  # 1 = next to speak
    floor_detail: str = ""  # why the hub refused a request (from the hub, English)
    briefings: tuple[Briefing, ...] = field(default_factory=tuple)
    update_waiting: str | None = None  # version downloaded or offered, not yet installed

    def with_(self, **changes: object) -> UiState:
        return replace(self, **changes)  # type: ignore[arg-type]

    def next_briefing(self, now: datetime) -> Briefing | None:
        upcoming = [b for b in self.briefings if b.starts_at >= now]
        return min(upcoming, key=lambda b: b.starts_at) if upcoming else None

    def briefing_due_within(self, now: datetime, window: timedelta) -> Briefing | None:
        """A briefing starting within ``window`` from ``now`` (the updater's guard)."""
        nxt = self.next_briefing(now)
        if nxt is not None and nxt.starts_at - now <= window:
            return nxt
        return None


def colour(state: UiState) -> Colour:
    # Order matters: a disconnected agent cannot know about briefings or links.
    if not state.connected:
        return Colour.GREY
    if state.update_required is not None or state.link == "down" or state.selftest_ready is False:
        return Colour.RED
    if state.in_briefing:
        return Colour.BLUE
    if state.link == "degraded":
        return Colour.AMBER
    return Colour.GREEN


def _hhmm(at: datetime) -> str:
    return at.astimezone(BANGKOK).strftime("%H:%M")


def status_sentence(state: UiState, now: datetime, lang: Lang = "th") -> str:
    """The current state in one sentence a clerk with no training understands."""
    th = lang == "th"
    if state.update_required is not None:
        return (
            f"โปรแกรมรุ่นนี้เก่าเกินไป ต้องติดตั้งรุ่น {state.update_required} ขึ้นไป โปรดโทรแจ้งจังหวัด"
            if th
            else f"This agent is too old: version {state.update_required} or later is needed; call the province."
        )
    if not state.connected:
        return (
            "ยังเชื่อมต่อกับจังหวัดไม่ได้ ตรวจสายแลนหรืออินเทอร์เน็ต แล้วรอสักครู่"
            if th
            else "Not connected to the province yet: check the network cable or internet, then wait a moment."
        )
    if state.selftest_ready is False:
        first = (state.selftest_reasons_th if th else state.selftest_reasons_en)[:1]
        reason = first[0] if first else ""
        return (
            f"อุปกรณ์มีปัญหา: {reason}" if th else f"A device has a problem: {reason}"
        ).rstrip(": ")
    if state.link == "down":
        return (
            "เครือข่ายไปจังหวัดขาด โปรดตรวจเราเตอร์และโทรแจ้งจังหวัด"
            if th
            else "The link to the province is down: check the router and call the province."
        )
    if state.in_briefing:
        if state.floor == "granted":
            return "กำลังประชุม และจังหวัดให้ท่านพูดได้แล้ว" if th else "In the briefing: you have the floor."
        extra = ""
        if state.link == "degraded":
            extra = " (เครือข่ายช้า)" if th else " (slow link)"
        return ("กำลังอยู่ในการประชุม" if th else "In the briefing") + extra
    if state.link == "degraded":
        return (
            "เชื่อมต่อแล้ว แต่เครือข่ายช้า ภาพและเสียงอาจกระตุก"
            if th
            else "Connected, but the link is slow: picture and sound may stutter."
        )
    nxt = state.next_briefing(now)
    if nxt is not None and nxt.starts_at.astimezone(BANGKOK).date() == now.astimezone(BANGKOK).date():
        return (
            f"พร้อมแล้ว ประชุมครั้งถัดไปเวลา {_hhmm(nxt.starts_at)} น."
            if th
            else f"Ready. Next briefing at {_hhmm(nxt.starts_at)}."
        )
    return "พร้อมแล้ว รอการประชุม" if th else "Ready, waiting for a briefing."


def floor_label(state: UiState, lang: Lang = "th") -> str:
    """Text of the raise-hand menu item: it doubles as the floor status."""
    th = lang == "th"
    if state.floor == "granted":
        return "ได้รับอนุญาตให้พูดแล้ว" if th else "You have the floor"
    if state.floor == "queued" and state.floor_position is not None:
        return (
            f"ยกมือแล้ว (ลำดับที่ {state.floor_position})"
            if th
            else f"Hand raised (position {state.floor_position})"
        )
    if state.floor == "queued":
        return "ยกมือแล้ว รอจังหวัดอนุญาต" if th else "Hand raised, waiting for the province"
    if state.floor == "pending":
        return "ส่งคำขอพูดแล้ว รอจังหวัดตอบ" if th else "Request sent, waiting for the province's answer"
    if state.floor == "denied":
        return "ยกมือขอพูด (ครั้งก่อนจังหวัดไม่อนุญาต)" if th else "Raise hand (last request declined)"
    if state.floor == "no_briefing":
        return "ยกมือขอพูด (ตอนนี้ไม่มีการประชุม)" if th else "Raise hand (no briefing is running)"
    return "ยกมือขอพูด" if th else "Raise hand"


@dataclass(frozen=True)
class Notice:
    key: str  # de-duplication key: the same notice is never shown twice
    title_th: str
    title_en: str
    body_th: str
    body_en: str

    def title(self, lang: Lang) -> str:
        return self.title_th if lang == "th" else self.title_en

    def body(self, lang: Lang) -> str:
        return self.body_th if lang == "th" else self.body_en


def notices(
    before: UiState, after: UiState, now: datetime, shown: frozenset[str] = frozenset()
) -> list[Notice]:
    """Notifications due after a state change (or a clock tick), minus those already shown."""
    out: list[Notice] = []
    nxt = after.briefing_due_within(now, REMINDER_BEFORE)
    if nxt is not None and not after.in_briefing:
        out.append(
            Notice(
                key=f"reminder:{nxt.key or nxt.starts_at.isoformat()}",
                title_th="อีก 10 นาทีเริ่มประชุม",
                title_en="Briefing in 10 minutes",
                body_th=f"{nxt.title_th} เริ่มเวลา {_hhmm(nxt.starts_at)} น. เปิดกล้องและไมค์ให้พร้อม",
                body_en=f"{nxt.title_en} starts at {_hhmm(nxt.starts_at)}. Get camera and mic ready.",
            )
        )
    if after.floor == "granted" and before.floor != "granted":
        out.append(
            Notice(
                key=f"floor:{now.isoformat()}",
                title_th="จังหวัดให้ท่านพูดได้แล้ว",
                title_en="The province gave you the floor",
                body_th="ไมโครโฟนเปิดแล้ว เชิญพูดได้",
                body_en="Your microphone is open: please speak.",
            )
        )
    if after.floor == "denied" and before.floor != "denied":
        out.append(
            Notice(
                key=f"floor-denied:{now.isoformat()}",
                title_th="จังหวัดยังไม่ให้พูด",
                title_en="The province declined your request",
                body_th="ยกมือใหม่ได้เมื่อต้องการพูด",
                body_en="Raise your hand again when you want to speak."
                + (f" ({after.floor_detail})" if after.floor_detail else ""),
            )
        )
    if after.floor == "no_briefing" and before.floor != "no_briefing":
        out.append(
            Notice(
                key=f"floor-no-briefing:{now.isoformat()}",
                title_th="ตอนนี้ไม่มีการประชุม",
                title_en="No briefing is running",
                body_th="ยกมือขอพูดได้เมื่อการประชุมเริ่มแล้ว",
                body_en="You can raise your hand once a briefing has started.",
            )
        )
    if after.link == "degraded" and before.link != "degraded":
        out.append(
            Notice(
                key=f"link:{now.isoformat()}",
                title_th="เครือข่ายช้าลง",
                title_en="Link degraded",
                body_th="ภาพและเสียงอาจกระตุก ถ้าเป็นนานให้โทรแจ้งจังหวัด",
                body_en="Picture and sound may stutter; call the province if it lasts.",
            )
        )
    if after.update_waiting is not None and after.update_waiting != before.update_waiting:
        out.append(
            Notice(
                key=f"update:{after.update_waiting}",
                title_th="มีโปรแกรมรุ่นใหม่รอติดตั้ง",
                title_en="An update is waiting",
                body_th=f"รุ่น {after.update_waiting} จะติดตั้งเองเมื่อไม่มีการประชุม",
                body_en=f"Version {after.update_waiting} installs itself when no briefing is near.",
            )
        )
    return [n for n in out if n.key not in shown]


def reminder_notice(briefing: Briefing, message_th: str = "", message_en: str = "") -> Notice:
    """The hub's reminder that ``briefing`` starts soon (same key as the 10-minute notice: shown once)."""
    at = _hhmm(briefing.starts_at)
    return Notice(
        key=f"reminder:{briefing.key or briefing.starts_at.isoformat()}",
        title_th="ใกล้เวลาประชุม",
        title_en="Briefing soon",
        body_th=message_th or f"{briefing.title_th} เริ่มเวลา {at} น. เปิดกล้องและไมค์ให้พร้อม",
        body_en=message_en or f"{briefing.title_en} starts at {at}. Get camera and mic ready.",
    )
