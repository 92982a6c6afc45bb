"""A secret ballot leaves no voter→choice link, in any table or any log line.

Two identical hubs run the same briefing and the same secret poll; UDN01 and
UDN02 vote 0/1 on one and 1/0 on the other. The tally is the same, so if any
record linked a voter to a choice the two runs would differ somewhere. Every
table is dumped (all columns, in row order) before and after the votes, and
every log line written during them is captured; the changes must be identical.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from hub.polls.keys import POLLS
from site_agent.clerk.meeting import ClerkMeeting
from site_agent.client import AgentClient
from tests.conftest import HubHandle, _ensure_accounts, start_hub
from tests.hub.identity.briefing import Api, quiet_settings, site_token, start_briefing

T0 = datetime(2026, 4, 13, 2, 0, tzinfo=UTC)
CHAIN = {"hash", "prev_hash"}  # chain bookkeeping: differs because earlier, unrelated history differs


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")]
        for name in names:
            result = conn.exec_driver_sql(f'SELECT rowid AS _rowid, * FROM "{name}" ORDER BY rowid')
            cols = list(result.keys())
            out[name] = [tuple((c, v) for c, v in zip(cols, row, strict=True)) for row in result]
    return out


def changes(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, list[Any]]:
    delta = {}
    for name, rows in after.items():
        old = set(before.get(name, []))
        new = [r for r in rows if r not in old]
        if new:
            delta[name] = new
    return delta


def normal(delta: dict[str, list[Any]], base_rowid: int, base_seq: int) -> dict[str, list[Any]]:
    """Audit row ids and seq relative to the chain before the vote; chain hashes blanked."""
    out = {}
    for name, rows in delta.items():
        fixed = []
        for row in rows:
            items = []
            for col, value in row:
                if col in CHAIN:
                    value = "<chain>"
                elif name == "audit_events" and col in ("_rowid", "id"):
                    value -= base_rowid
                elif name.startswith("audit") and col == "seq":
                    value -= base_seq
                items.append((col, value))
            fixed.append(tuple(items))
        out[name] = fixed
    return out


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Access-log times and durations vary run to run; nothing else is normalised.
        text = re.sub(r"\[[^\]]*\]", "[time]", f"{record.name} {record.levelname} {record.getMessage()}")
        self.lines.append(re.sub(r" \d+\.\d+s?\b", " <s>", text))


async def run(tmp: Path, http: aiohttp.ClientSession, choices: dict[str, int],
              ballot: str = "secret", via_agent: bool = False) -> tuple[dict[str, Any], list[str], list[int]]:
    """``via_agent``: the districts vote from the clerk's window (real agents on the control socket)."""
    hub: HubHandle = await start_hub(quiet_settings(tmp), tmp)
    stack = contextlib.AsyncExitStack()
    try:
        _ensure_accounts(hub)
        api = Api(http, hub)
        cid = await start_briefing(api, ["UDN01", "UDN02", "UDN03"])
        tokens = {s: await site_token(hub, s) for s in choices}
        clerks: dict[str, ClerkMeeting] = {}
        if via_agent:
            for site in choices:
                client = AgentClient(await hub.enrol_agent(site), backoff_base=0.1, backoff_cap=1.0)
                clerks[site] = ClerkMeeting(client)
                task = asyncio.create_task(client.run())
                stack.push_async_callback(_stop, client, task)
                await client.wait_connected(timeout=10)
        ticks = itertools.count()
        hub.app[POLLS].clock = lambda: T0 + timedelta(seconds=next(ticks))
        _, poll = await api.call("POST", f"/api/v1/conferences/{cid}/polls", body={
            "question": "ลงมติ", "options": ["เห็นชอบ", "ไม่เห็นชอบ"], "ballot": ballot}, expect=201)
        for c in clerks.values():
            await _until(lambda c=c: c.state.poll(poll["id"]) is not None)
        await asyncio.sleep(0.3)  # the windows' pushes are over: nothing else is written during the votes
        before = dump(hub.engine)
        with hub.engine.connect() as conn:
            base_rowid = conn.exec_driver_sql("SELECT max(rowid) FROM audit_events").scalar() or 0
            base_seq = conn.exec_driver_sql("SELECT max(seq) FROM audit_events").scalar() or 0
        handler = Lines()
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            for site, option in choices.items():
                if via_agent:
                    await clerks[site].vote(poll["id"], option)
                    await _until(lambda s=site: not clerks[s].state.poll(poll["id"]).open_for())  # type: ignore[union-attr]
                else:
                    await api.call("POST", f"/api/v1/conferences/{cid}/polls/{poll['id']}/votes", tokens[site],
                                   {"option": option}, expect=201)
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
        delta = normal(changes(before, dump(hub.engine)), base_rowid, base_seq)
        _, closed = await api.call("POST", f"/api/v1/conferences/{cid}/polls/{poll['id']}/close", expect=200)
        # What each window was told is part of the record too: the same words, whatever the choice.
        told = [f"{s}: {c.state.message_th} / {c.state.message_en}" for s, c in clerks.items()]
        return delta, handler.lines + told, closed["counts"]
    finally:
        await stack.aclose()
        await hub.runner.cleanup()


async def _stop(client: AgentClient, task: asyncio.Task[None]) -> None:
    client.stop()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, 5)


async def _until(pred: Any, timeout: float = 10) -> None:
    for _ in range(int(timeout * 20)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.slow
async def test_two_districts_voting_differently_leave_identical_records(
        tmp_path: Path, http: aiohttp.ClientSession) -> None:
    a, log_a, tally_a = await run(tmp_path / "a", http, {"UDN01": 0, "UDN02": 1})
    b, log_b, tally_b = await run(tmp_path / "b", http, {"UDN01": 1, "UDN02": 0})
    assert tally_a == tally_b == [1, 1]
    # Something was written: the voters, the counters, the audit events.
    assert {"poll_voters", "poll_tallies", "audit_events", "audit_chain_head"} <= set(a)
    assert "poll_open_votes" not in a
    assert a == b, "a voter→choice link shows in the database"
    assert log_a == log_b, "a voter→choice link shows in the logs"
    assert any("vote was recorded" in line for line in log_a)
    voted = [dict(r) for r in a["audit_events"]]
    assert [v["action"] for v in voted] == ["poll.voted", "poll.voted"]
    assert all("option" not in str(v["detail"]) for v in voted)
    # The voters' rows say who voted, nothing else.
    assert [dict(r)["voter"] for r in a["poll_voters"]] == ["UDN01", "UDN02"]
    assert {c for c, _ in a["poll_voters"][0]} == {"_rowid", "id", "poll_id", "voter", "participant"}


@pytest.mark.slow
async def test_votes_from_the_agents_windows_leave_identical_records(
        tmp_path: Path, http: aiohttp.ClientSession) -> None:
    a, log_a, tally_a = await run(tmp_path / "a", http, {"UDN01": 0, "UDN02": 1}, via_agent=True)
    b, log_b, tally_b = await run(tmp_path / "b", http, {"UDN01": 1, "UDN02": 0}, via_agent=True)
    assert tally_a == tally_b == [1, 1]
    assert {"poll_voters", "poll_tallies", "audit_events"} <= set(a) and "poll_open_votes" not in a
    assert [dict(r)["actor"] for r in a["audit_events"]] == ["agent:UDN01", "agent:UDN02"]
    assert a == b, "a voter→choice link shows in the database"
    assert log_a == log_b, "a voter→choice link shows in the logs or in what the windows were told"
    assert "UDN01: บันทึกการลงมติแล้ว / Your vote was recorded" in log_a


@pytest.mark.slow
async def test_the_check_can_fail_an_open_ballot_is_told_apart(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    a, _, _ = await run(tmp_path / "a", http, {"UDN01": 0, "UDN02": 1}, ballot="open")
    b, _, _ = await run(tmp_path / "b", http, {"UDN01": 1, "UDN02": 0}, ballot="open")
    assert a != b and "poll_open_votes" in a
