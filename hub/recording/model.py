"""Recording rules, pure: file names, when to record, what clean-up may delete, the bilingual errors.

Time is passed in; nothing here reads the clock, touches a file or the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class RecState(StrEnum):
    RECORDING = "recording"
    FINISHED = "finished"  # stopped by an operator, or the briefing ended
    INTERRUPTED = "interrupted"  # the media worker or the hub died: the files end at the crash
    DISK_FULL = "disk_full"  # stopped by itself below the free-space threshold
    FAILED = "failed"  # the worker refused or could not write
    DISCARDED = "discarded"  # the briefing was marked confidential: files removed


FINAL_STATES = frozenset(s for s in RecState if s is not RecState.RECORDING)
KINDS = ("mp4", "mp3")

# Letters and digits of any script, Thai vowels and tone marks (combining, so not \w), and - .
_UNSAFE = re.compile(r"[^\w\u0E00-\u0E7F-]+")


def slug(title: str, limit: int = 60) -> str:
    """A file-name-safe form of a series title: no separators, no dots, no traversal."""
    text = _UNSAFE.sub("-", title.strip()).strip("-_")
    text = re.sub(r"-{2,}", "-", text)
    return text[:limit].strip("-_") or "briefing"


def file_stem(title: str, started_at: datetime, tz: str = "Asia/Bangkok", part: int = 1) -> str:
    """``<series>_<YYYY-MM-DD>_<HHMMSS>`` in the briefing's local time (Asia/Bangkok), ``-partN`` after a restart."""
    if started_at.tzinfo is None:
        raise ValueError("started_at must be an aware UTC datetime")
    local = started_at.astimezone(ZoneInfo(tz))
    stem = f"{slug(title)}_{local:%Y-%m-%d_%H%M%S}"
    return stem if part <= 1 else f"{stem}-part{part}"


def should_record(auto_enabled: bool, series_record: bool | None, confidential: bool) -> bool:
    """Record a briefing automatically? Only a scheduled one (a series) whose series says so; never a ลับ one."""
    return auto_enabled and bool(series_record) and not confidential


def expired(ended_at: datetime | None, retention_days: int, now: datetime, *, legal_hold: bool) -> bool:
    """May clean-up delete this recording now? Never one under legal hold, never one still running."""
    if legal_hold or ended_at is None:
        return False
    return now - ended_at >= timedelta(days=retention_days)


@dataclass(frozen=True)
class RecordingError(Exception):
    """A refusal with its HTTP status and the Thai and English reasons."""

    status: int
    code: str
    th: str
    en: str

    @property
    def message(self) -> str:
        return f"{self.th} / {self.en}"


def refusal(code: str) -> RecordingError:
    status, th, en = _REFUSALS[code]
    return RecordingError(status, code, th, en)


_REFUSALS: dict[str, tuple[int, str, str]] = {
    "not_live": (409, "ไม่มีการประชุมนี้กำลังดำเนินอยู่", "this conference is not running"),
    "no_media": (409, "ระบบภาพและเสียงของการประชุมยังไม่พร้อม", "the conference's media is not running"),
    "confidential": (409, "การประชุมลับไม่บันทึกภาพและเสียง", "a confidential briefing is never recorded"),
    "already": (409, "กำลังบันทึกการประชุมนี้อยู่แล้ว", "this conference is already being recorded"),
    "not_recording": (409, "ไม่ได้บันทึกการประชุมนี้อยู่", "this conference is not being recorded"),
    "disk_low": (507, "พื้นที่ดิสก์ของศูนย์เหลือน้อยกว่าที่กำหนด บันทึกไม่ได้",
                 "the hub's free disk space is below the threshold; cannot record"),
    "unknown": (404, "ไม่พบบันทึกนี้", "no such recording"),
    "no_series": (404, "ไม่พบชุดการประชุมนี้", "no such briefing series"),
    "gone": (404, "ไฟล์ของบันทึกนี้ถูกลบแล้ว", "this recording's files were deleted"),
    "held": (409, "บันทึกนี้ถูกระงับการลบตามกฎหมาย (legal hold)", "this recording is under legal hold"),
    "running": (409, "บันทึกนี้ยังไม่สิ้นสุด", "this recording has not finished"),
    "worker": (502, "ระบบภาพและเสียงไม่ตอบ", "the media worker did not answer"),
}
