"""The recordings page's words, Thai and English (pure: no I/O)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "th": {
        "title": "บันทึกภาพและเสียงการประชุม", "live": "การประชุมที่กำลังดำเนินอยู่", "none_live": "ไม่มีการประชุมที่กำลังดำเนินอยู่",
        "start": "เริ่มบันทึก", "stop": "หยุดบันทึก", "recording_now": "กำลังบันทึก",
        "list": "รายการบันทึก", "empty": "ยังไม่มีบันทึก", "name": "ชื่อไฟล์", "started": "เริ่ม", "length": "ความยาว",
        "state": "สถานะ", "files": "ดาวน์โหลด", "hold": "ระงับการลบ (legal hold)", "set_hold": "ระงับการลบ",
        "lift_hold": "ยกเลิกการระงับ", "delete": "ลบ", "confirm_delete": "ลบบันทึกนี้ถาวร?", "seconds": "วินาที",
        "deleted": "ลบแล้ว", "retention": "เก็บบันทึก {days} วัน แล้วลบอัตโนมัติ ยกเว้นบันทึกที่ระงับการลบ",
        "recording": "กำลังบันทึก", "finished": "เสร็จสมบูรณ์", "interrupted": "ขาดตอน (ระบบขัดข้อง)",
        "disk_full": "หยุดเพราะดิสก์ใกล้เต็ม", "failed": "ล้มเหลว", "discarded": "ทิ้ง (การประชุมลับ)",
        "mp3_pending": "MP3 กำลังจัดทำ…",
    },
    "en": {
        "title": "Briefing recordings", "live": "Conferences running now", "none_live": "No conference is running",
        "start": "Start recording", "stop": "Stop recording", "recording_now": "Recording",
        "list": "Recordings", "empty": "No recordings yet", "name": "File", "started": "Started", "length": "Length",
        "state": "State", "files": "Download", "hold": "Legal hold", "set_hold": "Put on hold",
        "lift_hold": "Lift hold", "delete": "Delete", "confirm_delete": "Delete this recording for good?",
        "seconds": "s", "deleted": "deleted",
        "retention": "Recordings are kept {days} days, then deleted automatically unless under legal hold",
        "recording": "recording", "finished": "finished", "interrupted": "interrupted (a crash)",
        "disk_full": "stopped: disk nearly full", "failed": "failed", "discarded": "discarded (confidential)",
        "mp3_pending": "MP3 being made…",
    },
}
