"""Alarm rules, pure: severity, the bilingual texts, the e-mail an alarm becomes.

Time is passed in (``raised_at``); nothing here reads the clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

AlarmKind = Literal["offline", "red", "not_ready", "recording_disk_full", "media_flapping"]
Severity = Literal["warning", "critical"]

_TEXT: dict[str, tuple[str, str]] = {
    "offline": ("อำเภอ{name_th} ขาดการติดต่อ", "{name_en} district is offline"),
    "red": ("ลิงก์อำเภอ{name_th} อยู่ในสถานะแดง", "{name_en} district link is red"),
    # Online but failed its T−15 self-test (camera, microphone, link...): someone must call.
    "not_ready": ("อำเภอ{name_th} ไม่พร้อมประชุม", "{name_en} district is not ready for the briefing"),
    # In a live briefing, its media path failed and was rebuilt more than 3 times in 5 minutes.
    "media_flapping": ("อำเภอ{name_th} เชื่อมต่อภาพและเสียงใหม่ {reconnects} ครั้งใน {window_min} นาที",
                       "{name_en} district reconnected its media {reconnects} times in {window_min} minutes"),
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
    kind: str, *, name_th: str, name_en: str, severity: str, briefing_at: datetime | None, tz: str,
    fields: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """(Thai, English) text of an alarm; a critical one names the briefing's local time.

    ``fields`` fills the kind's own placeholders (a flapping alarm's count and window).
    """
    th, en = _TEXT[kind]
    extra = dict(fields or {})
    msg_th = th.format(name_th=name_th, **extra)
    msg_en = en.format(name_en=name_en, **extra)
    if severity == "critical" and briefing_at is not None:
        local = briefing_at.astimezone(ZoneInfo(tz))
        msg_th += _BRIEFING[0].format(time_th=local.strftime("%H:%M"))
        msg_en += _BRIEFING[1].format(time_en=local.strftime("%H:%M"))
    return msg_th, msg_en


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def link_figures(live: Mapping[str, Any]) -> dict[str, Any]:
    """The link figures an alarm carries, from link health's live view of the district
    (``LiveLink.as_dict``): colour, the probes' RTT, loss and jitter, the briefing's own
    RTCP figures, and the router's SNMP state. Missing measurements are None."""
    probe = live.get("probe") or {}
    webrtc = live.get("webrtc") or {}
    snmp = live.get("snmp") or live.get("hub_snmp") or {}
    return {
        "status": live.get("status") or "unknown",
        "rtt_ms": _num(probe.get("rtt_ms_median")),
        "loss_pct": _num(probe.get("loss_pct")),
        "jitter_ms": _num(probe.get("jitter_ms")),
        "webrtc_rtt_ms": _num(webrtc.get("rtt_ms_median")),
        "webrtc_loss_pct": _num(webrtc.get("loss_pct")),
        "snmp_state": snmp.get("state"),
        "snmp_oper_status": snmp.get("oper_status_name"),
        "snmp_util_down_pct": _num(snmp.get("util_down_pct")),
        "snmp_util_up_pct": _num(snmp.get("util_up_pct")),
    }


def _fmt(value: Any, unit: str) -> str:
    return "—" if value is None else f"{value:.0f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def figures_text(link: Mapping[str, Any]) -> tuple[str, str]:
    """One line of link figures (Thai, English) for an alarm's message and mail."""
    rtt, loss = _fmt(link.get("rtt_ms"), " ms"), _fmt(link.get("loss_pct"), " %")
    snmp = link.get("snmp_oper_status") or link.get("snmp_state") or "—"
    return (f"RTT {rtt} · สูญหาย {loss} · เราเตอร์ (SNMP) {snmp}",
            f"RTT {rtt} · loss {loss} · router (SNMP) {snmp}")


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
            + _detail_lines(data.get("detail") or {})
        ),
    )


def _detail_lines(detail: Mapping[str, Any]) -> str:
    """The figures an alarm carries (a flapping district's link), one per line."""
    link = detail.get("link")
    if not isinstance(link, Mapping):
        return ""
    th, en = figures_text(link)
    lines = [f"{k}: {'-' if v is None else v}" for k, v in link.items()]
    return f"\n{th}\n{en}\n" + "\n".join(lines) + "\n"


def recipients(setting: str) -> list[str]:
    """The comma-separated ``alarms_email_to`` as a list of addresses."""
    return [a.strip() for a in setting.split(",") if a.strip()]
