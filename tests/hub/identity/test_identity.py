"""Identities, roll calls and confidential briefings over the real API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlmodel import Session, select

from hub.identity.keys import IDENTITY
from hub.identity.model import IdentityRefused, Refusal, RollCall
from hub.mail.store import MailOutbox
from tests.conftest import HubHandle
from tests.hub.identity.briefing import Api, site_token, start_briefing

T0 = datetime(2026, 4, 12, 2, 0, tzinfo=UTC)


def test_roll_call_model_refuses_late_double_and_strangers() -> None:
    call = RollCall(1, T0, T0 + timedelta(seconds=30), ("UDN01", "UDN02"))
    call.confirm("UDN01", T0 + timedelta(seconds=5))
    for who, at, reason in [("UDN01", T0 + timedelta(seconds=6), Refusal.ROLL_CALL_ANSWERED),
                            ("UDN09", T0, Refusal.NOT_IN_BRIEFING),
                            ("UDN02", T0 + timedelta(seconds=30), Refusal.ROLL_CALL_CLOSED)]:
        with pytest.raises(IdentityRefused) as exc:
            call.confirm(who, at)
        assert exc.value.reason is reason and exc.value.message_th and exc.value.message_en
    state = call.state(T0 + timedelta(seconds=10))
    assert state.open and state.answered == ["UDN01"] and state.missing == ["UDN02"]
    assert not call.state(T0 + timedelta(seconds=31)).open


async def test_identities_and_roll_call_through_the_api(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    api = Api(http, hub)
    cid = await start_briefing(api, ["UDN01", "UDN02", "UDN03"])
    token = await site_token(hub, "UDN01")
    await api.call("POST", f"/api/v1/conferences/{cid}/identities", token,
                   {"people": [{"name": "นายสมชาย ใจดี", "position": "นายอำเภอ"},
                               {"name": "นางสาวมาลี ศรีสุข", "position": "ปลัดอำเภอ"}]}, expect=201)
    # A district speaks only for itself.
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/identities", token,
                                  {"site": "UDN02", "people": [{"name": "x"}]})
    assert status == 403 and "อำเภออื่น" in body["error"], body
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/identities", None,
                                  {"site": "UDN17", "people": [{"name": "x"}]})
    assert status == 403 and body["reason"] == "not_in_briefing"
    _, rows = await api.call("GET", f"/api/v1/conferences/{cid}/identities", expect=200)
    assert [(r["participant"], r["name"], r["position"]) for r in rows] == [
        ("UDN01", "นายสมชาย ใจดี", "นายอำเภอ"), ("UDN01", "นางสาวมาลี ศรีสุข", "ปลัดอำเภอ")]
    assert all(r["confirmed_at"] for r in rows)

    _, call = await api.call("POST", f"/api/v1/conferences/{cid}/roll-calls", body={"seconds": 60}, expect=201)
    assert call["open"] and call["missing"] == ["UDN01", "UDN02", "UDN03"]
    status, _ = await api.call("POST", f"/api/v1/conferences/{cid}/roll-calls", body={"seconds": 60})
    assert status == 409
    _, state = await api.call("POST", f"/api/v1/conferences/{cid}/roll-calls/{call['id']}/answer", token, {},
                              expect=200)
    assert state["answered"] == ["UDN01"] and state["missing"] == ["UDN02", "UDN03"]
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/roll-calls/{call['id']}/answer", token, {})
    assert status == 409 and body["reason"] == "roll_call_answered"
    _, states = await api.call("GET", f"/api/v1/conferences/{cid}/roll-calls", expect=200)
    assert states[0]["answered"] == ["UDN01"]


async def test_confidential_briefing_needs_the_mailed_code_and_refuses_guests(
        hub: HubHandle, http: aiohttp.ClientSession) -> None:
    api = Api(http, hub)
    cid = await start_briefing(api, ["UDN01", "UDN02"])
    status, _ = await api.call("POST", f"/api/v1/conferences/{cid}/guests", body={"name": "ก่อนลับ", "organisation": "สสจ."})
    assert status == 201
    await api.call("PUT", f"/api/v1/conferences/{cid}/confidential", body={"confidential": True}, expect=200)
    token = await site_token(hub, "UDN01")

    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/join-check", token, {})
    assert status == 403 and body["reason"] == "second_factor_required"
    assert "รหัส" in body["message_th"] and "one-time code" in body["message_en"]
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/guests",
                                  body={"name": "ผู้สื่อข่าว", "organisation": "หนังสือพิมพ์"})
    assert status == 403 and body["reason"] == "confidential_no_guests"
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/join-check", body={"participant": "guest:1"})
    assert status == 403 and body["reason"] == "confidential_no_guests"

    _, sent = await api.call("POST", f"/api/v1/conferences/{cid}/join-codes", token, {}, expect=201)
    assert sent["sent_to"] == "u***@salaklang.example"
    with Session(hub.engine) as s:
        mail = s.exec(select(MailOutbox).where(MailOutbox.kind == "join_code")).one()
    assert mail.to_addr == "udn01@salaklang.example" and mail.state == "queued"
    found = re.search(r"\b(\d{6})\b", mail.text_body)
    assert found
    code = found.group(1)
    wrong = "000000" if code != "000000" else "111111"
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/join-codes/verify", token, {"code": wrong})
    assert status == 403 and body["reason"] == "code_wrong"
    await api.call("POST", f"/api/v1/conferences/{cid}/join-codes/verify", token, {"code": code}, expect=200)
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/join-codes/verify", token, {"code": code})
    assert status == 403 and body["reason"] == "code_used"
    await api.call("POST", f"/api/v1/conferences/{cid}/join-check", token, {}, expect=200)
    # UDN02 has not verified a code: still refused.
    status, body = await api.call("POST", f"/api/v1/conferences/{cid}/join-check", body={"participant": "UDN02"})
    assert status == 403 and body["reason"] == "second_factor_required"
    assert hub.app[IDENTITY].is_confidential(cid)
    # The code itself is in no audit row.
    with hub.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM audit_events"))
        stored = " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM join_codes"))
    assert code not in dump and code not in stored


async def test_an_expired_code_is_refused(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    api = Api(http, hub)
    cid = await start_briefing(api, ["UDN03"])
    svc = hub.app[IDENTITY]
    svc.set_confidential(cid, True, actor="test")
    base = datetime.now(UTC)
    svc.clock = lambda: base
    svc.randbelow = lambda n: 424242
    svc.issue_join_code(cid, "UDN03", actor="test")
    svc.clock = lambda: base + timedelta(seconds=svc.code_ttl_s + 1)
    with pytest.raises(IdentityRefused) as exc:
        svc.verify_join_code(cid, "UDN03", "424242", actor="test")
    assert exc.value.reason is Refusal.CODE_EXPIRED
