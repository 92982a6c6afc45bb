"""Polls over the real API: the chair creates and closes, districts vote with their site tokens,
and every wrong vote is refused with a clear, typed error."""

from __future__ import annotations

import aiohttp

from tests.conftest import HubHandle
from tests.hub.identity.briefing import Api, site_token, start_briefing


async def test_votes_and_refusals(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    api = Api(http, hub)
    cid = await start_briefing(api, ["UDN01", "UDN02", "UDN03"])
    other = await start_briefing(api, ["UDN09"], title="อีกการประชุม")
    t1, t2, t9 = [await site_token(hub, s) for s in ("UDN01", "UDN02", "UDN09")]
    _, poll = await api.call("POST", f"/api/v1/conferences/{cid}/polls",
                             body={"question": "เห็นชอบแผนหรือไม่", "options": ["เห็นชอบ", "ไม่เห็นชอบ"]}, expect=201)
    votes = f"/api/v1/conferences/{cid}/polls/{poll['id']}/votes"
    await api.call("POST", votes, t1, {"option": 0}, expect=201)

    async def refused(path: str, token: str | None, body: dict[str, object], status: int, reason: str) -> None:
        got, data = await api.call("POST", path, token, body)
        assert (got, data.get("reason")) == (status, reason), data
        assert data["message_th"] and data["message_en"] and " / " in data["error"]

    await refused(votes, t1, {"option": 1}, 409, "double_vote")
    await refused(votes, t9, {"option": 0}, 403, "not_in_briefing")
    await refused(f"/api/v1/conferences/{cid}/polls/999/votes", t2, {"option": 0}, 404, "unknown_poll")
    # A real poll id, but of another briefing: as good as forged.
    _, foreign = await api.call("POST", f"/api/v1/conferences/{other}/polls",
                                body={"question": "q", "options": ["a", "b"]}, expect=201)
    await refused(f"/api/v1/conferences/{cid}/polls/{foreign['id']}/votes", t2, {"option": 0}, 404, "unknown_poll")
    await refused(votes, t2, {"option": 5}, 400, "bad_option")
    # A district creates a poll only once the chair allows it.
    body: dict[str, object] = {"question": "ขอมติเรื่องงบ", "options": ["ใช่", "ไม่"]}
    await refused(f"/api/v1/conferences/{cid}/polls", t2, body, 403, "create_not_allowed")
    await api.call("PUT", f"/api/v1/conferences/{cid}/polls/settings", body={"districts_may_create": True}, expect=200)
    _, mine = await api.call("POST", f"/api/v1/conferences/{cid}/polls", t2, body, expect=201)
    assert mine["created_by"] == "agent:UDN02"

    await api.call("POST", votes, t2, {"option": 1}, expect=201)
    _, closed = await api.call("POST", f"/api/v1/conferences/{cid}/polls/{poll['id']}/close", expect=200)
    assert closed["counts"] == [1, 1] and not closed["open"]
    assert [c["voter"] for c in closed["choices"]] == ["UDN01", "UDN02"]
    await refused(votes, None, {"option": 0, "participant": "UDN03"}, 409, "poll_closed")
    await refused(f"/api/v1/conferences/{cid}/polls/{poll['id']}/close", None, {}, 409, "already_closed")


async def test_secret_tally_is_hidden_until_close_and_per_person_needs_identity(
        hub: HubHandle, http: aiohttp.ClientSession) -> None:
    api = Api(http, hub)
    cid = await start_briefing(api, ["UDN01", "UDN02"])
    await api.call("POST", f"/api/v1/conferences/{cid}/identities",
                   body={"site": "UDN01", "people": [{"name": "นายสมชาย"}, {"name": "นางมาลี"}]}, expect=201)
    _, poll = await api.call("POST", f"/api/v1/conferences/{cid}/polls", body={
        "question": "ลงคะแนนลับ", "options": ["ก", "ข"], "ballot": "secret", "unit": "person"}, expect=201)
    votes = f"/api/v1/conferences/{cid}/polls/{poll['id']}/votes"
    await api.call("POST", votes, body={"option": 0, "participant": "UDN01", "person": "นายสมชาย"}, expect=201)
    await api.call("POST", votes, body={"option": 1, "participant": "UDN01", "person": "นางมาลี"}, expect=201)
    status, data = await api.call("POST", votes, body={"option": 1, "participant": "UDN01", "person": "นายสมชาย"})
    assert (status, data["reason"]) == (409, "double_vote")
    status, data = await api.call("POST", votes, body={"option": 1, "participant": "UDN02", "person": "นายสมชาย"})
    assert (status, data["reason"]) == (403, "not_identified")
    _, running = await api.call("GET", f"/api/v1/conferences/{cid}/polls/{poll['id']}", expect=200)
    assert running["counts"] is None and running["voters"] == ["UDN01/นางมาลี", "UDN01/นายสมชาย"]
    assert "choices" not in running
    _, closed = await api.call("POST", f"/api/v1/conferences/{cid}/polls/{poll['id']}/close", expect=200)
    assert closed["counts"] == [1, 1]
