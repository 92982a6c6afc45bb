"""One briefing, five districts (real agents, real media) and a guest, driven through the product's
API; its evidence package says exactly what happened — attendance and floor exactly as the
conference manager recorded them in hub.attendance — renders in Thai, verifies, and stops
verifying when a byte of it, a field of it, or a row of the audit log it points into changes."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, select

from hub import audit
from hub.attendance.store import AttendanceInterval, FloorInterval, interval_json
from hub.evidence.keys import TRAFFIC
from hub.evidence.model import Span, total_seconds
from hub.evidence.service import connection_json
from hub.evidence.verify import verify_file
from hub.settings import Settings
from site_agent.clerk.meeting import ClerkMeeting
from tests.conftest import HubHandle, python_module
from tests.hub.identity.briefing import DISTRICTS, Api, site_token, start_briefing
from tests.hub.media.test_conference_live import agents

GUEST = ("นางสาวพิมพ์ใจ รักษ์ถนน", "สำนักงานขนส่งจังหวัดอุดรธานี")
PEOPLE = {
    "UDN01": [("นายสมชาย ใจดี", "นายอำเภอเมืองอุดรธานี"), ("นางสาวมาลี ศรีสุข", "ปลัดอำเภอ")],
    "UDN02": [("นายวีระ กล้าหาญ", "นายอำเภอกุดจับ")],
    "UDN03": [("นางอรุณี แสงทอง", "ปลัดอำเภอหนองวัวซอ")],
    "UDN04": [("นายประเสริฐ มั่นคง", "นายอำเภอกุมภวาปี")],
    "UDN05": [("นายบุญมี ทองดี", "ปลัดอำเภอโนนสะอาด")],
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Media on (small pictures): sites are "in" when their media is up, which is when the
    # conference manager opens their attendance intervals.
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                    media_width=320, media_height=180, media_fps=15, media_kbps=600)


def _recorded(engine: sa.Engine, cid: int) -> tuple[list[AttendanceInterval], list[FloorInterval]]:
    with Session(engine) as s:
        a = s.exec(select(AttendanceInterval).where(AttendanceInterval.conference_id == cid)
                   .order_by(col(AttendanceInterval.started_at), col(AttendanceInterval.id))).all()
        f = s.exec(select(FloorInterval).where(FloorInterval.conference_id == cid)
                   .order_by(col(FloorInterval.granted_at), col(FloorInterval.id))).all()
        return list(a), list(f)


async def _until(pred: Callable[[], bool], what: str, timeout: float = 60) -> None:
    for _ in range(int(timeout * 10)):
        if pred():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


async def _briefing(hub: HubHandle, api: Api, run_agent: Callable[..., Any]) -> tuple[int, dict[str, Any]]:
    traffic = hub.app[TRAFFIC]
    async with agents(hub, run_agent, DISTRICTS) as ag:
        # The clerk's window part of each agent: identities, the roll call and votes go over its socket.
        clerks = {site: ClerkMeeting(a.client) for site, a in ag.items()}
        cid = await start_briefing(api)
        base = f"/api/v1/conferences/{cid}"
        # The traffic log's site rows come from the conference manager's join path itself.
        await _until(lambda: {a.site_code for a in _recorded(hub.engine, cid)[0]} == set(DISTRICTS),
                     "every district's media came up")
        await _until(lambda: all(c.state.identity_asked for c in clerks.values()), "every window asked who is in")
        _, guest = await api.call("POST", base + "/guests", body={"name": GUEST[0], "organisation": GUEST[1]},
                                  expect=201)
        await asyncio.to_thread(traffic.joined, cid, guest["participant"], source_addr="203.0.113.7",
                                client="Mozilla/5.0 (Android 14) Firefox/128.0")
        token = await site_token(hub, "UDN04")
        for site, people in PEOPLE.items():
            body = {"people": [{"name": n, "position": p} for n, p in people]}
            if site in ("UDN01", "UDN03", "UDN05"):
                await clerks[site].confirm_people(people)  # the clerk, from the agent's window
                await _until(functools.partial(lambda s: clerks[s].state.identity_confirmed, site),
                             f"{site}'s people stored")
            elif site == "UDN04":
                await api.call("POST", base + "/identities", token, body, expect=201)  # with the site token
            else:
                await api.call("POST", base + "/identities", body={"site": site, **body}, expect=201)

        _, call = await api.call("POST", base + "/roll-calls", body={"seconds": 120}, expect=201)
        await _until(lambda: all(c.state.roll_call_id == call["id"] for c in clerks.values()),
                     "the roll call reached every window")
        for who in ["UDN01", "UDN02", "UDN03", "UDN04"]:
            await clerks[who].answer_roll_call()
            await _until(functools.partial(lambda w: clerks[w].state.roll_call_answered, who),
                         f"{who} answered the roll call")
        await api.call("POST", f"{base}/roll-calls/{call['id']}/answer", body={"participant": guest["participant"]},
                       expect=200)

        _, open_poll = await api.call("POST", base + "/polls", body={
            "question": "เห็นชอบให้ตั้งด่านชุมชนทุกอำเภอหรือไม่", "options": ["เห็นชอบ", "ไม่เห็นชอบ"]}, expect=201)
        _, secret = await api.call("POST", base + "/polls", body={
            "question": "ลงคะแนนลับ: เลือกอำเภอต้นแบบ", "options": ["เมือง", "กุดจับ"], "ballot": "secret"}, expect=201)
        await _until(lambda: all(len(c.state.polls) == 2 for c in clerks.values()), "both polls in every window")
        open_votes = {"UDN01": 0, "UDN02": 0, "UDN03": 1, "UDN04": 0, "UDN05": 0}
        for site, option in open_votes.items():  # from the agents' windows
            await clerks[site].vote(open_poll["id"], option)
        for site, option in {"UDN01": 0, "UDN02": 1, "UDN03": 1, "UDN04": 0}.items():
            await clerks[site].vote(secret["id"], option)
        await _until(lambda: all(not (q := c.state.poll(open_poll["id"])) or not q.open_for()
                                 for c in clerks.values()), "every open vote answered")
        await _until(lambda: all(not (q := clerks[s].state.poll(secret["id"])) or not q.open_for()
                                 for s in ("UDN01", "UDN02", "UDN03", "UDN04")), "every secret vote answered")
        for poll in (open_poll, secret):
            await api.call("POST", f"{base}/polls/{poll['id']}/close", expect=200)

        await api.call("POST", base + "/floor", body={"site": "UDN02"}, expect=200)
        await asyncio.sleep(0.3)
        await api.call("POST", base + "/floor/take", expect=200)
        await api.call("POST", base + "/floor", body={"site": "UDN03"}, expect=200)
        await asyncio.sleep(0.2)
        # UDN05's PC drops off the network: its control channel closes, the manager closes its interval.
        ag["UDN05"].client.stop()
        await _until(lambda: any(a.site_code == "UDN05" and a.closed_reason == "link_lost"
                                 for a in _recorded(hub.engine, cid)[0]), "UDN05's link loss recorded")
        # The guest's browser (its media is the guests room's): its connection row by hand.
        await asyncio.to_thread(traffic.left, cid, guest["participant"], reason="ended",
                                quality={"loss_pct": 0.4, "jitter_ms": 6.0, "rtt_ms": 18.0})
        await api.call("POST", base + "/end", expect=200)
        await _until(lambda: all(a.ended_at is not None for a in _recorded(hub.engine, cid)[0]),
                     "every interval closed by the end")
    return cid, {"guest": guest["participant"], "open": open_poll["id"], "secret": secret["id"],
                 "open_votes": open_votes}


def _span(r: AttendanceInterval) -> Span:
    return Span(r.site_code, r.started_at, r.ended_at, r.opened_reason, r.closed_reason)


def _look_at_pdf(pdf: Path, png_prefix: Path) -> tuple[str, str]:
    """Page 1 as a PNG (test-artifacts/, to look at), the text, and the embedded fonts."""
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(pdf), str(png_prefix)], check=True)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
    return text, fonts


def _rezip(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, content if info.filename == name else src.read(info.filename))
    return out.getvalue()


def _flip_inside(data: bytes, name: str) -> bytes:
    """One byte changed in the middle of a member's stored bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(name)
    header = data[info.header_offset:info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    at = start + info.compress_size // 2
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.mark.slow
async def test_the_evidence_package(hub: HubHandle, http: aiohttp.ClientSession, run_agent: Callable[..., Any],
                                    tmp_path: Path, artifacts: Path) -> None:
    api = Api(http, hub)
    cid, facts = await _briefing(hub, api, run_agent)
    _, built = await api.call("POST", f"/api/v1/conferences/{cid}/evidence", expect=201)
    _, data = await api.call("GET", f"/api/v1/conferences/{cid}/evidence", expect=200)
    assert isinstance(data, bytes)
    package = tmp_path / "evidence.zip"
    package.write_bytes(data)
    assert hashlib.sha256(data).hexdigest() == built["sha256"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert set(z.namelist()) == {"manifest.json", "signature.ed25519", "public_key.pem", "evidence.json",
                                     "evidence.pdf", "README.txt"}
        doc = json.loads(z.read("evidence.json"))
        pdf = z.read("evidence.pdf")
    guest = facts["guest"]

    # --- the JSON says exactly what happened --------------------------------------------------
    m = doc["meeting"]
    assert (m["conference_id"], m["title"], m["chair"], m["status"], m["confidential"]) == (
        cid, "ประชุมศูนย์ปฏิบัติการถนนปลอดภัย", "operator:admin", "ended", False)
    assert m["clock"]["state"] in ("synchronized", "not_synchronized", "unknown") and m["clock"]["source"]
    parts = {p["participant"]: p for p in doc["participants"]}
    assert list(parts) == [*DISTRICTS, guest]
    # Attendance: every site's intervals are the attendance room's rows (reasons and labels
    # included), each with the traffic log's fields of the connection it happened on.
    recorded, floors = _recorded(hub.engine, cid)
    traffic = {r.participant: r for r in hub.app[TRAFFIC].rows(cid)}
    for site, people in PEOPLE.items():
        assert [(i["name"], i["position"]) for i in parts[site]["identities"]] == people
        mine = [r for r in recorded if r.site_code == site]
        assert [{k: iv[k] for k in interval_json(mine[0])} for iv in parts[site]["intervals"]] == [
            interval_json(r) for r in mine]
        for iv in parts[site]["intervals"]:
            assert iv["recorded_by"] == "attendance"
            assert {k: iv[k] for k in connection_json(None)} == connection_json(traffic[site])
        assert iv["source_addr"] == "127.0.0.1" and iv["client"].startswith("salaklang-agent ")
        assert iv["clock_at_join"] == m["clock"]["state"]
        assert parts[site]["seconds_present"] == total_seconds(
            [_span(r) for r in mine], datetime.fromisoformat(m["ended_at"]))[site]
    assert {site: [iv["closed_reason"] for iv in parts[site]["intervals"]] for site in DISTRICTS} == {
        "UDN01": ["ended"], "UDN02": ["ended"], "UDN03": ["ended"], "UDN04": ["ended"], "UDN05": ["link_lost"]}
    assert parts["UDN05"]["intervals"][-1]["closed_label_th"] == "สัญญาณหลุด"
    # The media-quality summary the join path took at each leave (the worker's receive figures).
    assert all(iv["quality"].get("frames_in", 0) > 0 for site in DISTRICTS for iv in parts[site]["intervals"]), [
        iv["quality"] for site in DISTRICTS for iv in parts[site]["intervals"]]
    assert parts["UDN01"]["identities"][0]["via"] == "agent" and parts["UDN02"]["identities"][0]["via"] == "api"
    assert parts["UDN04"]["identities"][0]["via"] == "agent"  # the site token's API call
    assert parts["UDN01"]["name_th"] == "เมืองอุดรธานี"
    g = parts[guest]
    assert (g["kind"], g["name_th"], g["identities"][0]["organisation"]) == ("guest", GUEST[0], GUEST[1])
    (gi,) = g["intervals"]
    assert gi["recorded_by"] == "traffic_log" and gi["client"].startswith("Mozilla/5.0")
    assert gi["closed_reason"] == "ended" and g["seconds_present"] > 0

    (call,) = doc["roll_calls"]
    assert [a["participant"] for a in call["answered"]] == ["UDN01", "UDN02", "UDN03", "UDN04", guest]
    assert call["missing"] == ["UDN05"] and call["seconds"] == 120

    polls = {p["id"]: p for p in doc["polls"]}
    op, sp = polls[facts["open"]], polls[facts["secret"]]
    assert op["counts"] == [4, 1] and op["ballot"] == "open"
    assert {c["voter"]: c["option"] for c in op["choices"]} == facts["open_votes"]
    assert sp["counts"] == [2, 2] and sp["ballot"] == "secret" and sp["choices"] == []
    assert sp["voters"] == ["UDN01", "UDN02", "UDN03", "UDN04"]
    secret_votes = [e for e in doc["audit"]["events"] if e["action"] == "poll.voted"
                    and e["detail"]["poll"] == facts["secret"]]
    assert len(secret_votes) == 4 and all("option" not in e["detail"] for e in secret_votes)

    # The floor: the attendance room's floor intervals, and speaking times from them.
    assert [(f["participant"], f["granted_at"], f["ended_at"], f["granted_by"], f["closed_reason"])
            for f in doc["floor"]] == [(f.site_code, f.granted_at.isoformat(), f.ended_at and f.ended_at.isoformat(),
                                        f.granted_by, f.closed_reason) for f in floors]
    assert [(f["participant"], f["closed_reason"]) for f in doc["floor"]] == [("UDN02", "revoked"),
                                                                                ("UDN03", "ended")]
    # Speaking time counts inside the conference: a floor closed "ended" by the conference's end is
    # stamped a moment after the conference's own end, and is counted up to that end.
    ended = datetime.fromisoformat(m["ended_at"])
    assert doc["speaking_seconds"] == {
        f.site_code: round((min(f.ended_at, ended) - f.granted_at).total_seconds(), 3)  # type: ignore[type-var]
        for f in floors}
    assert doc["floor"][0]["seconds"] >= 0.25 and doc["speaking_seconds"]["UDN03"] >= 0.15
    assert doc["recordings"] == []
    head = doc["audit"]["head_at_end"]
    assert doc["audit"]["events"][-1]["action"] == "conference.ended"
    assert head["seq"] == doc["audit"]["events"][-1]["seq"]
    assert audit.link_at(hub.engine, head["seq"]).hash == head["hash"]  # type: ignore[union-attr]

    # --- the PDF renders, in Thai -------------------------------------------------------------
    (tmp_path / "evidence.pdf").write_bytes(pdf)
    text, fonts = await asyncio.to_thread(_look_at_pdf, tmp_path / "evidence.pdf", artifacts / "evidence-page")
    assert (artifacts / "evidence-page-1.png").stat().st_size > 10_000
    # Compared without white space (table cells wrap where the layout decides, so only
    # words that fit one line are looked for); pdftotext splits sara am (ำ): no ำ in the needles.
    flat = "".join(text.split())
    for needle in ("หลักฐานการประชุม", "นายสมชายใจดี", "เมืองอุดรธานี", "ลงคะแนนลับ", "2569", "นางสาวพิมพ์ใจ", "ขนส่ง"):
        assert needle in flat, needle
    assert "Laksaman" in fonts

    # --- verify: valid, then each kind of tampering is named ---------------------------------
    env = {"SALAKLANG_DATA_DIR": str(hub.settings.data_dir)}
    ok = python_module("hub", "evidence", "verify", str(package), env=env)
    assert ok.returncode == 0 and "valid" in ok.stdout, ok.stdout + ok.stderr

    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(_flip_inside(data, "evidence.json"))
    bad = python_module("hub", "evidence", "verify", str(flipped), env=env)
    assert bad.returncode == 1 and "evidence.json" in bad.stderr, bad.stderr

    edited = json.loads(json.dumps(doc))
    next(p for p in edited["polls"] if p["id"] == facts["secret"])["counts"] = [3, 1]
    forged = tmp_path / "forged.zip"
    forged.write_bytes(_rezip(data, "evidence.json", json.dumps(edited, ensure_ascii=False).encode()))
    report = verify_file(hub.engine, hub.settings, forged)
    assert not report.ok and f"polls[{facts['secret']}].counts" in report.text(), report.text()

    other_key = Ed25519PrivateKey.generate()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        resigned = base64.b64encode(other_key.sign(z.read("manifest.json")))
    wrong_sig = tmp_path / "wrong-signature.zip"
    wrong_sig.write_bytes(_rezip(data, "signature.ed25519", resigned))
    report = verify_file(hub.engine, hub.settings, wrong_sig)
    assert not report.ok and "wrong signature" in report.text()

    seq = secret_votes[1]["seq"]
    with hub.engine.begin() as conn:
        original = conn.execute(sa.text("SELECT actor FROM audit_events WHERE seq = :s"), {"s": seq}).scalar()
        conn.execute(sa.text("UPDATE audit_events SET actor = 'operator:mallory' WHERE seq = :s"), {"s": seq})
    report = verify_file(hub.engine, hub.settings, package)
    assert not report.ok and f"seq {seq}" in report.text() and "edited" in report.text()
    with hub.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET actor = :a WHERE seq = :s"), {"a": original, "s": seq})
    assert verify_file(hub.engine, hub.settings, package).ok  # restored: valid again

    with hub.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})
    gone = python_module("hub", "evidence", "verify", str(package), env=env)
    assert gone.returncode == 1 and f"seq {seq} missing" in gone.stderr and "deleted" in gone.stderr, gone.stderr
