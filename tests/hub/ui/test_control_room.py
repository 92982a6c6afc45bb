"""The control room in a real browser against the real demo (20 agent processes)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import BrowserContext, expect

from tests.hub.ui.conftest import PASSWORD, Demo, OwnAgent, login, shot, watch_console

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_login_board_map_and_offline_flip(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    errors = watch_console(page)
    page.goto(demo.url + "/")
    page.wait_for_url("**/login**")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    page.locator("#username").fill("admin")
    page.locator("#password").fill("wrong-password")
    page.locator("form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_contain_text("ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง")
    page.locator("#username").fill("admin")
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()

    tiles = page.locator("#tiles > li.tile")
    expect(tiles).to_have_count(20)
    expect(page.locator("#live-state")).to_contain_text("●")
    expect(page.locator("#online-count")).to_have_text("20")
    # The map: 20 districts and the hall, each reachable by keyboard with a spoken label.
    expect(page.locator("#map a.pt")).to_have_count(21)
    expect(page.locator("#map a.pt-hub")).to_have_count(1)
    assert page.locator("#map a[href='/districts/UDN17']").get_attribute("aria-label")
    # The link colour comes from link health as a word and a glyph, not only a colour.
    expect(page.locator("#site-UDN01 [data-field=link_status]")).to_have_text(
        re.compile("^[✓!✕?] (ดี|ด้อยลง|แย่|ขาด|ไม่มีข้อมูล)$"), timeout=20000)
    expect(page.locator("#alarms")).to_be_visible()
    shot(page, "board-th")

    tile = page.locator("#site-UDN05")
    try:
        tile.get_by_role("button", name=re.compile("^ปิดเครื่องอำเภอ")).click()
        expect(tile).to_have_attribute("data-online", "0", timeout=15000)
        expect(tile.locator("[data-field=state]")).to_contain_text("ออฟไลน์")
        expect(page.locator("#map a[data-code=UDN05]")).to_have_class(re.compile("pt-offline"))
        expect(page.locator("#online-count")).to_have_text("19")
        expect(page.locator("#toast")).to_contain_text("✔")

        # After the offline grace an alarm appears on top; acknowledging it is audited.
        # (On a loaded machine the start-up check may have raised and cleared an earlier one: skip it.)
        alarm = page.locator("#alarm-list li.alarm", has_text="โนนสะอาด").filter(has_not_text="หายแล้ว").first
        expect(alarm).to_be_visible(timeout=15000)
        expect(page.locator("#alarm-count")).not_to_have_text("0")
        shot(page, "board-offline-alarm")
        alarm.get_by_role("button", name=re.compile("รับทราบ")).click()
        expect(page.locator("#toast")).to_contain_text("รับทราบการแจ้งเตือนแล้ว")
        expect(page.locator("#alarm-list li.alarm.acked").first).to_contain_text("รับทราบโดย admin", timeout=15000)
        status, events = demo.api("GET", "/api/v1/audit?action=alarm.ack")
        assert status == 200 and any(e["actor"] == "operator:admin" and e["ok"] for e in events)

        tile.get_by_role("button", name=re.compile("^เปิดเครื่องอำเภอ")).click()
        expect(tile).to_have_attribute("data-online", "1", timeout=20000)
        expect(page.locator("#online-count")).to_have_text("20")
    finally:
        # A failure above must not leave UDN05 off for the next tests on the same demo hub.
        demo.api("POST", "/api/v1/demo/agents/UDN05/start")
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


def test_schedule_songkran_preset_skip_and_invitations(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    errors = watch_console(page)
    login(page, demo, "operator", "/schedule")
    expect(page.get_by_role("heading", name="วันนี้และตารางประชุม")).to_be_visible()
    page.get_by_role("button", name="กรอกให้: สัปดาห์ความปลอดภัยทางถนนช่วงสงกรานต์").click()
    expect(page.locator("#f-title")).to_have_value(re.compile("สงกรานต์"))
    expect(page.locator("#f-start-time")).to_have_value("09:00")
    expect(page.locator("#f-recurrence")).to_have_value("daily")
    page.get_by_label("อีเมลผู้จัด").fill("briefing@udonthani.go.th")
    page.get_by_role("button", name="สร้างชุดการประชุม").click()
    expect(page.locator("#toast")).to_contain_text("สร้างชุดการประชุมแล้ว")
    rows = page.locator("#occurrences tbody tr[data-id]")
    expect(rows).to_have_count(7)
    # Thai dates carry the Buddhist Era year (Songkran 2027 CE = 2570 BE).
    expect(rows.first).to_contain_text(re.compile(r"12 เม\.ย\. 25\d\d"))
    expect(page.locator("#series tbody tr[data-id]")).to_have_count(1)

    # Bad input is shown with the field named, nothing saved.
    page.get_by_role("button", name="กรอกให้: สัปดาห์ความปลอดภัยทางถนนช่วงสงกรานต์").click()
    page.locator("#f-duration").fill("0")
    page.get_by_role("button", name="สร้างชุดการประชุม").click()
    expect(page.locator("#form-error")).to_contain_text("duration_min")
    expect(page.locator("#f-duration")).to_have_attribute("aria-invalid", "true")

    # Skipping one occurrence asks first; cancelling the dialog does nothing.
    third = rows.nth(2)
    third.get_by_role("button", name=re.compile("งดครั้งนี้")).click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="ยกเลิก").click()
    expect(rows).to_have_count(7)
    third.get_by_role("button", name=re.compile("งดครั้งนี้")).click()
    dialog.get_by_role("button", name="ยืนยัน ดำเนินการ").click()
    expect(page.locator("#toast")).to_contain_text("งดการประชุมครั้งนี้แล้ว")
    expect(rows).to_have_count(6)

    series_row = page.locator("#series tbody tr[data-id]").first
    series_row.get_by_role("button", name="ส่งหนังสือเชิญ").click()
    expect(page.locator("#toast")).to_contain_text("เข้าคิวส่งหนังสือเชิญแล้ว")
    expect(page.locator("#invitations tbody tr").first).to_be_visible()
    # Move one occurrence to 10:00 the same day (a dialog with a Bangkok-time field).
    fourth = rows.nth(3)
    fourth.get_by_role("button", name=re.compile("^เลื่อน")).click()
    key = fourth.get_attribute("data-date")
    page.get_by_label("เวลาเริ่มใหม่ (เวลาประเทศไทย)").fill(f"{key}T10:00")
    page.locator("#move-dialog").get_by_role("button", name="เลื่อน").click()
    expect(page.locator("#toast")).to_contain_text("เลื่อนการประชุมแล้ว")
    expect(page.locator(f"#occurrences tr[data-date='{key}']")).to_contain_text("10:00")

    # Editing the series fills the form; saving changes every occurrence's time.
    page.locator("#series tbody tr[data-id]").first.get_by_role("button", name=re.compile("^แก้ไข")).click()
    expect(page.locator("#new-title")).to_contain_text("กำลังแก้ไข")
    page.locator("#f-start-time").fill("08:30")
    page.get_by_role("button", name="บันทึกการแก้ไข").click()
    expect(page.locator("#toast")).to_contain_text("บันทึกแล้ว")
    expect(rows.first).to_contain_text("08:30")
    rows.first.get_by_role("button", name="ความพร้อม").click()
    expect(page.locator("#occurrences tr.detail ul.readiness li")).to_have_count(20)
    shot(page, "schedule-th")
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


def test_conference_page_drives_the_conference_api(demo: Demo, context: BrowserContext) -> None:
    """The conference API is always there; the page shows its real panels and follows it."""
    status, rows = demo.api("GET", "/api/v1/conferences")
    assert status == 200 and isinstance(rows, list), (status, rows)
    page = context.new_page()
    errors = watch_console(page)
    login(page, demo, "operator", "/conference")
    expect(page.locator("#conf-summary")).to_contain_text("ไม่มีการประชุม")
    expect(page.locator("#start-form")).to_be_visible()
    expect(page.locator("#preview")).to_be_attached()
    # Recording and content are both there now: no "not available yet" note, a link to recordings.
    expect(page.locator(".missing")).to_have_count(0)
    expect(page.locator("#recordings-link")).to_have_attribute("href", "/recordings")
    status, conf = demo.api("POST", "/api/v1/conferences", {"sites": ["UDN01", "UDN02"], "layout": "2x2"})
    assert status == 201, conf
    try:
        page.reload()
        expect(page.locator("#conf-summary")).to_contain_text("2x2")
        expect(page.locator("#participants tbody tr")).to_have_count(2)
        shot(page, "conference-th")
    finally:
        status, body = demo.api("POST", f"/api/v1/conferences/{conf['id']}/end")
    assert status == 200, body
    page.reload()
    expect(page.locator("#conf-summary")).to_contain_text("ไม่มีการประชุม")
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


def test_district_page(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    errors = watch_console(page)
    login(page, demo, "viewer", "/districts/UDN17")
    expect(page.locator("h1")).to_contain_text("นายูง")
    expect(page.get_by_role("heading", name="ข้อมูลติดต่อ")).to_be_visible()
    expect(page.locator("#chart")).to_be_visible()
    expect(page.locator("#live-link")).to_contain_text(re.compile("ดี|ด้อยลง|แย่|ขาด|ไม่มีข้อมูล"), timeout=15000)
    page.get_by_role("button", name="7 วัน").click()
    expect(page.get_by_role("button", name="7 วัน")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="24 ชั่วโมง").click()
    # Buckets when the agents report probes; otherwise the chart says there is no data.
    expect(page.locator("#chart line.median, #chart text.nodata-text").first).to_be_attached(timeout=10000)
    expect(page.locator("#chart text.ylabel").first).to_be_attached()
    shot(page, "district-th")
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


def test_switch_to_english_and_back(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    login(page, demo, "admin", "/reports")
    expect(page.get_by_role("heading", name="รายงาน", exact=True)).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main menu")).to_contain_text("Today & schedule")
    shot(page, "reports-en")
    page.goto(demo.url + "/admin")
    expect(page.locator("#inventory")).to_contain_text("1 Apr 2018")  # Gregorian in English
    shot(page, "admin-en")
    page.get_by_role("link", name="ไทย").click()
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.locator("#inventory")).to_contain_text("1 เม.ย. 2561")  # Buddhist Era in Thai
    expect(page.get_by_role("heading", name="ผู้ดูแลระบบ", exact=True)).to_be_visible()


def test_admin_tokens_create_and_revoke(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    login(page, demo, "admin", "/admin")
    page.locator("#tok-name").fill("สคริปต์รายงาน")
    page.get_by_role("button", name="สร้างโทเค็น").click()
    token = page.locator("#new-token-value")
    expect(token).to_have_value(re.compile("^slk_"))
    value = token.input_value()
    assert demo.api("GET", "/api/v1/me", token=value) == (200, {"username": "admin", "role": "admin", "via": "token"})
    page.reload()
    row = page.locator("#tok-table tbody tr", has_text="สคริปต์รายงาน")
    row.get_by_role("button", name=re.compile("เพิกถอน")).click()
    page.locator("#confirm-dialog").get_by_role("button", name="ยืนยัน ดำเนินการ").click()
    expect(page.locator("#toast")).to_contain_text("เพิกถอนโทเค็นแล้ว")
    assert demo.api("GET", "/api/v1/me", token=value)[0] == 401
    page.reload()
    expect(page.locator("#tok-table tbody tr", has_text="สคริปต์รายงาน")).to_contain_text("เพิกถอนแล้ว")
    shot(page, "admin-th")


def test_viewer_sees_but_cannot_act(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    login(page, demo, "viewer", "/")
    expect(page.locator("#tiles > li.tile")).to_have_count(20)
    expect(page.locator("button.demo-stop")).to_have_count(0)
    expect(page.locator("#alarm-list button.ack")).to_have_count(0)
    expect(page.get_by_role("link", name="ผู้ดูแลระบบ")).to_have_count(0)
    page.goto(demo.url + "/schedule")
    expect(page.locator("#series-form")).to_have_count(0)
    expect(page.locator("#occurrences button", has_text="งดครั้งนี้")).to_have_count(0)
    shot(page, "schedule-viewer-th")
    # The server refuses too, even with a valid session and CSRF token.
    result = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name=csrf-token]').content;
        const post = (url) => fetch(url, {method: 'POST', headers: {'X-CSRF-Token': csrf, 'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status);
        return [await post('/api/v1/series/preset/songkran'), await post('/api/v1/demo/agents/UDN01/stop'),
                await post('/api/v1/alarms/1/ack'), await post('/api/v1/tokens'),
                await post('/api/v1/conferences'), (await fetch('/admin')).status];
    }""")
    assert result == [403, 403, 403, 403, 403, 403], result
    page.goto(demo.url + "/conference")
    expect(page.locator("#start-form")).to_have_count(0)
    expect(page.locator("#conf-panel button:not([disabled])")).to_have_count(0)
    # And without the CSRF token a logged-in browser cannot change anything at all.
    status = page.evaluate("fetch('/api/v1/operators', {method: 'POST', body: '{}'}).then(r => r.status)")
    assert status == 403


def test_pages_send_security_headers_and_no_inline_script(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    login(page, demo, "admin", "/")
    for path in ("/", "/schedule", "/conference", "/reports", "/admin", "/districts/UDN01"):
        resp = page.goto(demo.url + path)
        assert resp is not None and resp.status == 200, path
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        inline = page.evaluate("""() => [...document.scripts].filter(s => !s.src && s.type !== 'application/json').length
            + document.querySelectorAll('[onclick],[onload],[onchange],[onsubmit]').length""")
        assert inline == 0, path
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]),select,button')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim()
                    && !el.closest('label')).map(el => el.outerHTML.slice(0, 80))""")
        assert unlabelled == [], (path, unlabelled)


def _frame_stats(png: bytes) -> tuple[float, list[float]]:
    """Mean brightness and a coarse 4x4 brightness grid of a screenshot (Pillow)."""


    img = Image.open(io.BytesIO(png)).convert("L").resize((64, 36))
    cells = [ImageStat.Stat(img.crop((x * 16, y * 9, x * 16 + 16, y * 9 + 9))).mean[0]
             for y in range(4) for x in range(4)]
    return ImageStat.Stat(img).mean[0], cells


def _grid_distance(a: list[float], b: list[float]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def test_conference_start_layout_preview_and_floor(demo: Demo, context: BrowserContext,
                                                   tmp_path: Path) -> None:
    page = context.new_page()
    errors = watch_console(page)
    login(page, demo, "operator", "/conference")
    agent = OwnAgent(demo, "UDN03", tmp_path)
    try:
        demo.wait_online(20)
        page.locator("#start-layout").select_option("4x5")
        page.get_by_role("button", name=re.compile("เริ่มการประชุม")).click()
        expect(page.locator("#toast")).to_contain_text("เริ่มการประชุมแล้ว")
        expect(page.locator("#conf-summary")).to_contain_text("4x5")
        expect(page.locator("#participants tbody tr")).to_have_count(20)
        # The program arrives in the page over WebRTC from the hub's media worker.
        expect(page.locator("#preview-state")).to_contain_text("●", timeout=20000)
        page.wait_for_function("() => { const v = document.getElementById('preview'); "
                               "return v.videoWidth > 0 && v.currentTime > 0.5; }", timeout=20000)
        video = page.locator("#preview")
        before_a = _frame_stats(video.screenshot())[1]
        page.wait_for_timeout(600)
        before_b = _frame_stats(video.screenshot())[1]
        page.locator(".layout-btn[data-layout='speaker']").click()
        expect(page.locator("#toast")).to_contain_text("speaker")
        expect(page.locator(".layout-btn[data-layout='speaker']")).to_have_attribute("aria-pressed", "true")
        status, body = demo.api("GET", "/api/v1/conferences")
        assert status == 200 and body[0]["layout"] == "speaker"
        # 20 slates in a grid become one full-screen picture: the picture's structure changes
        # far more than it does between two frames of the same layout.
        page.wait_for_timeout(1500)
        after = _frame_stats(video.screenshot())[1]
        still = _grid_distance(before_a, before_b)
        changed = _grid_distance(before_b, after)
        assert changed > max(4.0, 3 * still), (still, changed)
        shot(page, "conference-live-th")

        # A district asks for the floor; the operator grants it from the queue.
        agent.request_floor()
        row = page.locator("#floor-queue tbody tr[data-request]")
        expect(row).to_have_count(1, timeout=10000)
        expect(row).to_contain_text("หนองวัวซอ")
        row.get_by_role("button", name=re.compile("^ให้พูด")).click()
        expect(page.locator("#floor-queue tbody tr[data-status=granted]")).to_have_count(1)
        expect(page.locator("#conf-summary")).to_contain_text("◆ หนองวัวซอ")
        status, body = demo.api("GET", "/api/v1/conferences")
        assert body[0]["floor"]["holder"] == "UDN03"
        # Revoking asks first.
        page.locator("#floor-queue tbody tr[data-status=granted]").get_by_role("button", name=re.compile("เพิกถอน")).click()
        page.locator("#confirm-dialog").get_by_role("button", name="ยืนยัน ดำเนินการ").click()
        expect(page.locator("#floor-queue tbody tr[data-request]")).to_have_count(0)
        shot(page, "conference-floor-th")

        # Lecture mode and the agenda with its running timer.
        page.locator("#lecture-btn").click()
        expect(page.locator("#lecture-btn")).to_have_attribute("aria-pressed", "true")
        page.locator("#agenda-minutes").fill("1")
        page.get_by_role("button", name="ลำดับการพูด: ทุกอำเภอที่เข้าร่วม").click()
        expect(page.locator("#toast")).to_contain_text("บันทึกลำดับการพูดแล้ว")
        page.get_by_role("button", name="เริ่มวาระ").click()
        expect(page.locator("#agenda-state")).to_contain_text(re.compile(r"▶ .+ · \d+ s เหลือ"))
        first = page.locator("#agenda-state").text_content()
        page.wait_for_timeout(2200)
        assert page.locator("#agenda-state").text_content() != first  # the timer runs
        page.get_by_role("button", name="หยุดชั่วคราว").click()
        expect(page.locator("#agenda-state")).to_contain_text("‖")
        shot(page, "conference-agenda-th")

        # The board marks who is in the briefing.
        board = context.new_page()
        board.goto(demo.url + "/")
        expect(board.locator("#site-UDN01 [data-field=conf]")).to_be_visible()

        page.get_by_role("button", name=re.compile("จบการประชุม")).click()
        page.locator("#confirm-dialog").get_by_role("button", name="ยืนยัน ดำเนินการ").click()
        expect(page.locator("#toast")).to_contain_text("จบการประชุมแล้ว")
        expect(page.locator("#conf-summary")).to_contain_text("ไม่มีการประชุม")
    finally:
        agent.stop()
        status, rows = demo.api("GET", "/api/v1/conferences")
        for c in rows if status == 200 else []:
            if c["status"] == "live":
                demo.api("POST", f"/api/v1/conferences/{c['id']}/end")
        demo.api("POST", "/api/v1/demo/agents/UDN03/start")
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


CONTRAST_JS = """(selectors) => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bg = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = getComputedStyle(n).backgroundColor;
      const alpha = c.startsWith('rgba') ? Number(c.match(/[\\d.]+/g)[3]) : 1;
      if (alpha >= 0.5) return c;  // a faint overlay (the current nav item) keeps its parent's colour
    }
    return 'rgb(255, 255, 255)';
  };
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.offsetParent) continue;
      const a = lum(getComputedStyle(el).color), b = lum(bg(el));
      out.push([sel, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
    }
  }
  return out;
}"""


def test_keyboard_and_projector_contrast(demo: Demo, context: BrowserContext) -> None:
    page = context.new_page()
    login(page, demo, "admin", "/")
    # The first Tab reaches the skip link, which jumps to the content.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    # Map points are links a keyboard reaches, each with a spoken name.
    page.locator("#map a[data-code=UDN01]").focus()
    expect(page.locator("#map a[data-code=UDN01]")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/districts/UDN01")
    # Text survives a projector: WCAG AA contrast (4.5:1) for status words, badges, nav, notes.
    for path in ("/", "/districts/UDN01", "/conference", "/admin"):
        page.goto(demo.url + path)
        page.wait_for_load_state("networkidle")
        ratios = page.evaluate(CONTRAST_JS, [".tile .state", ".badge", "nav a", ".missing", ".muted", "th", "td",
                                             ".kv dt", "button", ".alarm .sev", "#toast"])
        low = [(sel, round(r, 2)) for sel, r in ratios if r < 4.5]
        assert ratios and low == [], (path, low[:10])
    # A destructive action's dialog closes with Escape and nothing happens.
    page.goto(demo.url + "/admin")
    revoke = page.locator("#tok-table button.revoke").first
    revoke.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    expect(page.locator("#tok-table button.revoke").first).to_be_visible()
    shot(page, "admin-keyboard-th")
