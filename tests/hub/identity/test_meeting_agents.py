"""The meeting over real agents: the clerk's window messages, the join path's gate and its traffic log.

A real hub with its media worker, real agents (control WebSocket, aiortc media) each with
the clerk's meeting part (site_agent.clerk.meeting) and a real SMTP server for the one-time
code. A confidential briefing refuses the district that joins without its code (the agent is
told, and why); the code the clerk asks for from the window arrives by e-mail, a wrong one is
refused, the right one lets the district in. Who is in the room, the roll call and the votes
go over the control channel with a typed answer each; the traffic log holds what the join
path saw (hub clock, NTP state, source address, agent version, media figures at leave).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from hub.attendance.store import intervals_for_conference
from hub.evidence.keys import TRAFFIC
from hub.settings import Settings
from site_agent import protocol as p
from site_agent.clerk.meeting import ClerkMeeting, MeetingError
from site_agent.client import AgentClient
from site_agent.media.endpoint import install
from tests.conftest import HubHandle, free_port
from tests.hub.identity.briefing import Api, start_briefing
from tests.hub.identity.test_join_code_mail import Mailbox
from tests.hub.media.mediakit import COLOURS, TONES

pytestmark = pytest.mark.slow
C = TypeVar("C", bound=p.HubCommand[Any])


@pytest.fixture
def mailbox_port() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def settings(tmp_path: Path, mailbox_port: tuple[Mailbox, int]) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_width=320, media_height=180,
                    media_fps=15, media_kbps=400, smtp_host="127.0.0.1", smtp_port=mailbox_port[1])


class Clerk:
    """An agent PC: its control client, its media endpoint, the clerk's meeting part and what it was sent."""

    def __init__(self, client: AgentClient) -> None:
        self.client = client
        self.meeting = ClerkMeeting(client)
        self.commands: list[p.HubCommand[Any]] = []
        client.add_command_observer(self.commands.append)

    def got(self, kind: type[C]) -> list[C]:
        return [c for c in self.commands if isinstance(c, kind)]

    def answers(self, action: str) -> list[p.MeetingAnswer]:
        return [c for c in self.commands if isinstance(c, p.MeetingAnswer) and c.action == action]


@contextlib.asynccontextmanager
async def clerk(hub: HubHandle, code: str) -> AsyncIterator[Clerk]:
    config = await hub.enrol_agent(code)
    client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
    endpoint = install(client, colour=COLOURS[code], tone_hz=TONES[code])
    c = Clerk(client)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        yield c
    finally:
        await endpoint.close()
        client.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)


async def until(pred: Callable[[], object], what: str, timeout: float = 30) -> None:
    for _ in range(int(timeout * 20)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out: {what}")


async def test_the_meeting_over_real_agents(hub: HubHandle, http: aiohttp.ClientSession,
                                            mailbox_port: tuple[Mailbox, int]) -> None:
    box, _ = mailbox_port
    api = Api(http, hub)
    traffic = hub.app[TRAFFIC]

    def sites_in(cid: int) -> set[str]:
        return {r.site_code for r in intervals_for_conference(hub.engine, cid) if r.ended_at is None}

    async with clerk(hub, "UDN01") as one:
        cid = await start_briefing(api, ["UDN01", "UDN02"], title="ประชุมลับ ศูนย์ปฏิบัติการ")
        base = f"/api/v1/conferences/{cid}"
        await until(lambda: "UDN01" in sites_in(cid), "UDN01's media is up")
        # The join path asks the clerk who is in the room.
        await until(lambda: one.got(p.IdentityPrompt), "identity prompt at UDN01")
        await api.call("PUT", base + "/confidential", body={"confidential": True}, expect=200)

        async with clerk(hub, "UDN02") as two:
            # --- a confidential briefing joined without the second factor: refused, clearly -----------
            await until(lambda: two.meeting.state.refused is not None, "UDN02 told its join was refused")
            refused = two.meeting.state.refused
            assert refused is not None and refused.reason == "second_factor_required" and refused.second_factor
            assert "อีเมล" in refused.message_th and "e-mail" in refused.message_en
            await asyncio.sleep(1.0)
            assert "UDN02" not in sites_in(cid)
            assert not two.got(p.JoinConference) and not [r for r in traffic.rows(cid) if r.participant == "UDN02"]
            _, conf = await api.call("GET", base, expect=200)
            mine = next(x for x in conf["participants"] if x["site"] == "UDN02")
            assert "second" in (mine["error"] or "") or "อีเมล" in (mine["error"] or ""), mine
            # The clerk asks for the code from the window; a wrong code is refused, the e-mailed one admits.
            await two.meeting.request_code()
            await until(lambda: box.messages, "the code's e-mail")
            code = re.search(r"\b(\d{6})\b", box.messages[0].get_body(("plain",)).get_content())  # type: ignore[union-attr]
            assert code is not None
            wrong = "000000" if code.group(1) != "000000" else "111111"
            await two.meeting.verify_code(wrong)
            await until(lambda: any(not a.ok for a in two.answers("joincode")), "the wrong code refused")
            assert [a.reason for a in two.answers("joincode")] == ["sent", "code_wrong"]
            with pytest.raises(MeetingError):
                await two.meeting.verify_code("  ")
            await two.meeting.verify_code(code.group(1))
            await until(lambda: "UDN02" in sites_in(cid), "UDN02 admitted after its code")
            assert two.meeting.state.refused is None and two.got(p.IdentityPrompt)

            # --- who is in the room, from the clerk's window ----------------------------------------
            await one.meeting.confirm_people([("นายสมชาย ใจดี", "นายอำเภอ"), ("นางสาวมาลี ศรีสุข", "ปลัดอำเภอ"),
                                              ("   ", "")])
            await until(lambda: one.meeting.state.identity_confirmed, "UDN01's identities stored")
            _, ids = await api.call("GET", base + "/identities", expect=200)
            assert [(i["participant"], i["name"], i["position"], i["via"]) for i in ids] == [
                ("UDN01", "นายสมชาย ใจดี", "นายอำเภอ", "agent"), ("UDN01", "นางสาวมาลี ศรีสุข", "ปลัดอำเภอ", "agent")]

            # --- a roll call: the chair starts it, each window is asked, the page shows who answered -
            _, call = await api.call("POST", base + "/roll-calls", body={"seconds": 30}, expect=201)
            await until(lambda: one.meeting.state.roll_call_id == call["id"]
                        and two.meeting.state.roll_call_id == call["id"], "roll call reaches both windows")
            await one.meeting.answer_roll_call()
            await until(lambda: one.meeting.state.roll_call_answered, "UDN01 answered")
            await one.meeting.answer_roll_call()  # twice: refused, and the window still says "answered"
            await until(lambda: len(one.answers("rollcall")) == 2, "second answer answered")
            assert [a.ok for a in one.answers("rollcall")] == [True, False]
            _, calls = await api.call("GET", base + "/roll-calls", expect=200)
            assert calls[-1]["answered"] == ["UDN01"] and calls[-1]["missing"] == ["UDN02"]

            # --- votes from the window: open and secret, refusals named ------------------------------
            _, open_poll = await api.call("POST", base + "/polls", body={
                "question": "เห็นชอบแผนตั้งด่านหรือไม่", "options": ["เห็นชอบ", "ไม่เห็นชอบ"]}, expect=201)
            _, secret = await api.call("POST", base + "/polls", body={
                "question": "ลงคะแนนลับ", "options": ["ก", "ข"], "ballot": "secret"}, expect=201)
            await until(lambda: len(one.meeting.state.polls) == 2 and len(two.meeting.state.polls) == 2,
                        "both polls reach both windows")
            await one.meeting.vote(open_poll["id"], 0)
            await two.meeting.vote(open_poll["id"], 1)
            await one.meeting.vote(secret["id"], 1)
            await two.meeting.vote(secret["id"], 0)
            await one.meeting.vote(open_poll["id"], 1)  # double vote
            await until(lambda: len(one.answers("vote")) == 3 and len(two.answers("vote")) == 2, "votes answered")
            assert [(a.ok, a.reason) for a in one.answers("vote")] == [(True, ""), (True, ""), (False, "double_vote")]
            # What the secret voters were told is the same words: nothing pairs them with a choice.
            assert {(a.message_th, a.message_en) for a in one.answers("vote")[:2] + two.answers("vote")} == {
                ("บันทึกการลงมติแล้ว", "Your vote was recorded")}
            poll = one.meeting.state.poll(open_poll["id"])
            assert poll is not None and not poll.open_for()  # the window shows it voted
            # A forged poll id is named.
            forged_id = secret["id"] + 1000
            one.meeting._set(polls=(*one.meeting.state.polls, poll.__class__(forged_id, "x", ("a", "b"), "open",
                                                                                 "site", None)))
            await one.meeting.vote(forged_id, 0)
            await until(lambda: len(one.answers("vote")) == 4, "forged poll answered")
            assert one.answers("vote")[-1].reason == "unknown_poll"
            for q in (open_poll, secret):
                await api.call("POST", f"{base}/polls/{q['id']}/close", expect=200)
            await until(lambda: all(q.closed for q in two.meeting.state.polls), "closed polls reach the window")
            closed = {c.poll_id: c.counts for c in two.got(p.PollClosed)}
            assert closed == {open_poll["id"]: [1, 1], secret["id"]: [1, 1]}
            two.meeting._set(polls=tuple(q.__class__(q.poll_id, q.question, q.options, q.ballot, q.unit, None)
                                         for q in two.meeting.state.polls))  # the window not yet told it closed
            await two.meeting.vote(secret["id"], 1)  # after the close
            await until(lambda: len(two.answers("vote")) == 3, "vote after close answered")
            assert two.answers("vote")[-1].reason == "poll_closed"
            assert two.meeting.state.poll(secret["id"]).closed  # type: ignore[union-attr]

            # --- one vote per identified person: the window offers the names confirmed at its site ----
            _, per_person = await api.call("POST", base + "/polls", body={
                "question": "รายบุคคล: เห็นชอบหรือไม่", "options": ["เห็นชอบ", "ไม่เห็นชอบ"], "unit": "person"},
                expect=201)
            await until(lambda: one.meeting.state.poll(per_person["id"]) is not None, "per-person poll at UDN01")
            item = one.meeting.state.poll(per_person["id"])
            assert item is not None and item.people == ("นางสาวมาลี ศรีสุข", "นายสมชาย ใจดี")
            for person in (*item.people, "นายสมชาย ใจดี", "นายปลอม ไม่มีชื่อ"):
                await one.meeting.vote(per_person["id"], 0, person)
            await until(lambda: len(one.answers("vote")) == 8, "per-person votes answered")
            assert [a.reason for a in one.answers("vote")[4:]] == ["", "", "double_vote", "not_identified"]
            item = one.meeting.state.poll(per_person["id"])
            assert item is not None and item.voted == frozenset(item.people) and not item.open_for("นายสมชาย ใจดี")
            _, view = await api.call("GET", f"{base}/polls/{per_person['id']}", expect=200)
            assert view["voters"] == ["UDN01/นางสาวมาลี ศรีสุข", "UDN01/นายสมชาย ใจดี"]

            # A poll with a closing time: the windows hear its tally when the time passes.
            _, timed = await api.call("POST", base + "/polls", body={
                "question": "ปิดเองใน 1 วินาที", "options": ["ก", "ข"], "closes_in_s": 1.0}, expect=201)
            await until(lambda: (q := two.meeting.state.poll(timed["id"])) is not None and q.closed,
                        "the timed poll closed in UDN02's window", timeout=10)

            await api.call("POST", base + "/end", expect=200)

    # --- the traffic log, written by the join path itself -----------------------------------------
    rows = {r.participant: r for r in traffic.rows(cid)}
    assert set(rows) == {"UDN01", "UDN02"}
    for site, row in rows.items():
        assert row.source_addr == "127.0.0.1" and row.client.startswith("salaklang-agent "), row
        assert row.clock_at_join in ("synchronized", "not_synchronized", "unknown") and row.clock_source
        assert row.left_at is not None and row.close_reason == "ended" and row.left_at >= row.joined_at
        assert row.quality.get("frames_in", 0) > 0, (site, row.quality)
    # UDN02's connection began when its code let it in, after UDN01's.
    assert rows["UDN02"].joined_at > rows["UDN01"].joined_at
