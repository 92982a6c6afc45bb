"""The report's words in Thai and English (Thai first). Pure data."""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    "title": ("รายงานค่าใช้จ่ายและการใช้งานระบบประชุมทางไกลประจำเดือน", "Monthly cost and usage report, video briefings"),
    "month": ("ประจำเดือน", "Month"),
    "generated": ("จัดทำเมื่อ", "Generated"),
    "district": ("อำเภอ", "District"),
    "code": ("รหัส", "Code"),
    "fee": ("ค่าบริการ (ไม่รวม VAT)", "Fee excl. VAT"),
    "vat": ("ภาษีมูลค่าเพิ่ม", "VAT"),
    "total": ("รวมทั้งสิ้น", "Total"),
    "days": ("วันที่คิดค่าบริการ", "Days billed"),
    "scheduled": ("นัดประชุม", "Scheduled"),
    "on_time": ("ตรงเวลา", "On time"),
    "late": ("สาย", "Late"),
    "left_early": ("ออกก่อน", "Left early"),
    "absent": ("ขาด", "Absent"),
    "dropped": ("หลุด", "Dropped"),
    "minutes_connected": ("นาทีที่เชื่อมต่อ", "Minutes connected"),
    "minutes_floor": ("นาทีที่ได้พูด", "Minutes holding the floor"),
    "availability": ("สัญญาณใช้ได้ (%)", "Availability (%)"),
    "hub_check": ("ศูนย์ตรวจพบใช้ได้ (%)", "Hub check up (%)"),
    "minutes_green": ("นาทีเขียว", "Minutes green"),
    "minutes_amber": ("นาทีเหลือง", "Minutes amber"),
    "minutes_red": ("นาทีแดง", "Minutes red"),
    "minutes_down": ("นาทีขาดหาย", "Minutes down"),
    "rtt": ("RTT มัธยฐาน (ms)", "Median RTT (ms)"),
    "loss": ("สูญหาย (%)", "Loss (%)"),
    "p95_down": ("p95 ขาลง (%)", "p95 down (%)"),
    "p95_up": ("p95 ขาขึ้น (%)", "p95 up (%)"),
    "cost_per_hour": ("ค่าใช้จ่ายต่อชั่วโมงประชุม", "Cost per hour attended"),
    "saving": ("ค่าเดินทางที่ประหยัด", "Travel saved (THB)"),
    "person_hours": ("ชั่วโมงเดินทางที่ประหยัด", "Person-hours of travel saved"),
    "province_total": ("รวมทั้งจังหวัด", "Province total"),
    "previous": ("เดือนก่อน", "Previous month"),
    "change": ("เปลี่ยนแปลง", "Change"),
    "sum_check": ("ยอดรวมจังหวัดเท่ากับผลรวมของแต่ละอำเภอ", "The province total is the sum of the district lines"),
    "rule": ("หลักเกณฑ์", "Rules"),
    "rule_text": (
        "ค่าบริการรายเดือนคิดตามจำนวนวันที่ใช้บริการ: อัตรารายเดือน × จำนวนวัน ÷ จำนวนวันในเดือน "
        "แยกตามช่วงที่แต่ละอัตรามีผล ปัดเศษเป็นสตางค์ (ปัดครึ่งขึ้น) ภาษีมูลค่าเพิ่มคำนวณจากค่าบริการแต่ละช่วง "
        "× อัตราภาษี รวมแล้วปัดเป็นสตางค์ครั้งเดียวต่ออำเภอ ยอดรวมจังหวัดคือผลรวมของแต่ละอำเภอ",
        "Each month is priced by the days each rate was in force: monthly fee × days ÷ days in the month, "
        "per rate period, rounded half-up to the satang; VAT is each part × its rate, summed and rounded "
        "half-up to the satang once per district line; the province total is the sum of the lines.",
    ),
    "rule_availability": (
        "สัญญาณใช้ได้ = นาทีที่การวัดของเครื่องอำเภอพบว่าสัญญาณใช้ได้ (เขียว เหลือง แดง) ÷ นาทีที่คิดค่าบริการ "
        "ชั่วโมงที่ไม่มีผลวัดนับเป็นขาดหาย; p95 คือเปอร์เซ็นไทล์ที่ 95 ของอัตราเฉลี่ยราย 5 นาที เทียบกับแผน",
        "Availability = minutes the agent's probes found the link up (green, amber, red) ÷ minutes billed; an "
        "hour without any probe report counts as down. p95 is the 95th percentile of 5-minute average rates "
        "against the plan.",
    ),
    "rule_saving": (
        "ค่าเดินทางที่ประหยัด = ระยะทาง × 2 × {rate} บาท/กม. × {people} คน ต่อการประชุมที่เข้าร่วม",
        "Travel saved = distance × 2 × {rate} THB/km × {people} people per briefing attended",
    ),
    "charts": ("แผนภูมิ", "Charts"),
    "chart_attendance": ("การเข้าร่วมรายอำเภอ", "Attendance per district"),
    "chart_availability": ("สัญญาณใช้ได้รายอำเภอ (%)", "Availability per district (%)"),
    "chart_cost": ("ค่าใช้จ่ายเทียบกับค่าเดินทางที่ประหยัด (บาท)", "Cost against travel saved (THB)"),
    "chart_worst": ("{n} อำเภอที่ต่ำที่สุดจาก {total} อำเภอ", "the {n} lowest of {total} districts"),
    "chart_cost_worst": ("{n} อำเภอที่ประหยัดได้น้อยที่สุดเทียบกับค่าใช้จ่าย จาก {total} อำเภอ",
                         "the {n} of {total} districts with the least saving against cost"),
    "table_elsewhere": ("ตารางรายอำเภอทั้ง {n} อำเภออยู่ในไฟล์ XLSX และ CSV ของรายงานนี้",
                        "The table of all {n} districts is in this report's XLSX and CSV files"),
    "statements_elsewhere": ("รายงานนี้มี {n} อำเภอ ใบแจ้งค่าบริการรายอำเภอจัดทำแยกต่อจังหวัด (รายงานประจำเดือนของแต่ละจังหวัด)",
                             "This report covers {n} districts; the per-district statements are produced per "
                             "province (each province's monthly report)"),
    "cost": ("ค่าใช้จ่าย", "Cost"),
    "statement": ("ใบแจ้งค่าบริการวงจรสื่อสารระบบประชุมทางไกล", "Statement: video-briefing circuit"),
    "billed_to": ("เรียกเก็บจาก", "Billed to"),
    "provider": ("ผู้ให้บริการ", "Provider"),
    "plan": ("แผนบริการ", "Plan"),
    "circuit_period": ("ช่วงที่คิดค่าบริการ", "Period billed"),
    "amount_words": ("จำนวนเงิน (ตัวอักษร)", "Amount in words"),
    "rate_period": ("อัตรา {fee} บาท/เดือน VAT {vat}% ตั้งแต่ {first} ถึง {last} ({days} วัน)",
                    "Rate {fee} THB/month, VAT {vat}% from {first} to {last} ({days} days)"),
    "prorated": ("คิดตามสัดส่วนวัน", "pro-rated by days"),
    "series_title": ("ตารางการเข้าร่วมรายวัน", "Attendance by day"),
    "briefings": ("การประชุมในเดือน", "Briefings in the month"),
    "none": ("ไม่มี", "none"),
    "thb": ("บาท", "THB"),
    # the control room's Reports page
    "page_monthly": ("รายงานประจำเดือน", "Monthly report"),
    "preview": ("แสดงตัวอย่าง", "Preview"),
    "download": ("ดาวน์โหลด", "Download"),
    "send_now": ("ส่งอีเมลถึงฝ่ายการเงินตอนนี้", "E-mail finance now"),
    "language": ("ภาษา", "Language"),
    "runs": ("การจัดทำและการส่ง", "Runs and deliveries"),
    "run_trigger": ("ที่มา", "Trigger"),
    "run_state": ("ผล", "Result"),
    "run_files": ("ไฟล์", "Files"),
    "deliveries": ("การส่งอีเมล", "E-mail deliveries"),
    "next_run": ("ส่งอัตโนมัติครั้งถัดไป", "Next automatic run"),
    "finance_to": ("ผู้รับ", "Recipients"),
    "no_runs": ("ยังไม่มีการจัดทำ", "No runs yet."),
    "ok": ("สำเร็จ", "done"),
    "failed": ("ล้มเหลว", "failed"),
    "schedule": ("อัตโนมัติ", "automatic"),
    "api": ("สั่งจากหน้านี้", "from this page"),
    "cli": ("บรรทัดคำสั่ง", "command line"),
    "queued": ("รอส่ง", "queued"),
    "sent": ("ส่งแล้ว", "sent"),
    "attempts": ("ครั้งที่ลอง", "attempts"),
}


def label(key: str, lang: str) -> str:
    th, en = LABELS[key]
    return th if lang == "th" else en
