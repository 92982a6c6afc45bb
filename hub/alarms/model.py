"""Alarm rules, pure: severity, the bilingual texts, the e-mail an alarm becomes.

Time is passed in (``raised_at``); nothing here reads the clock or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

AlarmKind = Literal["offline", "red", "not_ready", "recording_disk_full"]
Severity = Literal["warning", "critical"]

_TEXT: dict[str, tuple[str, str]] = {
    "offline": ("อำเภอ{name_th} ขาดการติดต่อ", "{name_en} district is offline"),
    "red": ("ลิงก์อำเภอ{name_th} อยู่ในสถานะแดง", "{name_en} district link is red"),
    # Online but failed its T−15 self-test (camera, microphone, link...): someone must call.
    "not_ready": ("อำเภอ{name_th} ไม่พร้อมประชุม", "{name_en} district is not ready for the briefing"),
    # Raised on the province's site by hub/recording (issue 14): the files so far stay valid.
    "recording_disk_full": ("ดิสก์ของศูนย์ใกล้เต็ม หยุดบันทึกการประชุมแล้ว ({name_th})",
                            "hub disk nearly full: the recording was stopped ({name_en})"),
}
_BRIEFING = (" — ก่อนการประชุมเวลา {time_th} น.", " — before the briefing at {time_en}")


def severity_for(raised_at: datetime, briefing_at: datetime | None, window_min: float) -> Severity:
    """Critical when the next briefing starts within the window after ``raised_at``."""
    if briefing_at is None:
        return "warning"
    lead = briefing_at - raised_at
    return "critical" if timedelta(0) <= lead <= timedelta(minutes=window_min) else "warning"


def messages(
    kind: str, *, name_th: str, name_en: str, severity: str, briefing_at: datetime | None, tz: str
) -> tuple[str, str]:
    """(Thai, English) text of an alarm; a critical one names the briefing's local time."""
    th, en = _TEXT[kind]
    msg_th = th.format(name_th=name_th)
    msg_en = en.format(name_en=name_en)
    if severity == "critical" and briefing_at is not None:
        local = briefing_at.astimezone(ZoneInfo(tz))
        msg_th += _BRIEFING[0].format(time_th=local.strftime("%H:%M"))
        msg_en += _BRIEFING[1].format(time_en=local.strftime("%H:%M"))
    return msg_th, msg_en


@dataclass(frozen=True)
class AlarmMail:
    subject: str
    text: str


def alarm_mail(data: dict[str, Any]) -> AlarmMail:
    """The e-mail of one alarm (its JSON as published), Thai first."""
    tag = "[วิกฤต/CRITICAL]" if data["severity"] == "critical" else "[เตือน/WARNING]"
    return AlarmMail(
        subject=f"{tag} {data['message_th']} / {data['message_en']}",
        text=(
            f"{data['message_th']}\n{data['message_en']}\n\n"
            f"site: {data['site']}\nraised (UTC): {data['raised_at']}\n"
            f"briefing (UTC): {data['briefing_at'] or '-'}\n"
        ),
    )


def recipients(setting: str) -> list[str]:
    """The comma-separated ``alarms_email_to`` as a list of addresses."""
    return [a.strip() for a in setting.split(",") if a.strip()]
