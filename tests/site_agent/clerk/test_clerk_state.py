"""The clerk is agent state, and the hub's typed commands drive what the tray shows.

Real AgentClient and ClerkAgent objects; the commands are the protocol's own models,
handed to the client's dispatcher exactly as they come off the WebSocket.
"""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from pathlib import Path

from site_agent import protocol as p
from site_agent.clerk import service
from site_agent.clerk.service import ClerkAgent, install_clerk
from site_agent.clerk.state import floor_label
from site_agent.client import AgentClient
from site_agent.config import AgentConfig

NOW = datetime(2026, 4, 12, 1, 0, tzinfo=UTC)


def _client(tmp_path: Path, site: str = "UDN07") -> AgentClient:
    config = AgentConfig(hub_url="http://127.0.0.1:9", site=site, token="t" * 32, config_dir=tmp_path / site,
                         name_th="หนองวัวซอ")
    return AgentClient(config)


async def _deliver(client: AgentClient, command: p.HubCommand[p.Reply]) -> p.Ack:
    """Run a command through the client's own dispatch (observers, handler, typed reply)."""
    sent: list[p.Ack] = []

    async def capture(message: p.Message) -> None:
        assert isinstance(message, p.Ack)
        sent.append(message)

    client.send = capture  # type: ignore[method-assign]
    await client._run_command(p.Command.wrap(command, sent_at=NOW.timestamp()))
    (ack,) = sent
    return ack


def test_a_clerk_is_held_by_its_agent_not_by_the_module(tmp_path: Path) -> None:
    """Two agents in one process have their own clerks; a dropped agent's clerk goes with it."""
    a, b = _client(tmp_path, "UDN01"), _client(tmp_path, "UDN02")
    clerk_a, clerk_b = install_clerk(a), install_clerk(b)
    assert clerk_a is not clerk_b and clerk_a.client is a and clerk_b.client is b
    assert not any(isinstance(v, dict) and clerk_a in v.values() for v in vars(service).values())
    gone = weakref.ref(clerk_a)
    del clerk_a, a
    gc.collect()
    assert gone() is None  # a module-level registry of clerks would keep it (and its client) alive


async def test_every_floor_answer_of_the_hub_shows(tmp_path: Path) -> None:
    client = _client(tmp_path)
    clerk = ClerkAgent(client, now=lambda: NOW, updates_root=tmp_path / "updates")
    shown: list[str] = []
    clerk.subscribe(lambda state, due: shown.extend(n.title_en for n in due))

    async def answer(conference_id: int | None, **floor: object) -> str:
        ack = await _deliver(client, p.ConferenceState(conference_id=conference_id,
                                                       floor=p.FloorView.model_validate(floor)))
        assert ack.ok and isinstance(ack.result, p.Done)
        return floor_label(clerk.state, "en")

    assert await answer(None, status="no_briefing") == "Raise hand (no briefing is running)"
    assert not clerk.state.in_briefing and "No briefing is running" in shown
    assert await answer(7, status="queued", position=2, request_id=1) == "Hand raised (position 2)"
    assert clerk.state.in_briefing
    assert await answer(7, status="granted", request_id=1) == "You have the floor"
    assert "The province gave you the floor" in shown
    assert await answer(7, status="denied", request_id=2, detail="the chair declined") == \
        "Raise hand (last request declined)"
    assert clerk.state.floor_detail == "the chair declined" and "The province declined your request" in shown


async def test_the_reminder_has_a_handler_and_shows(tmp_path: Path) -> None:
    client = _client(tmp_path)
    clerk = ClerkAgent(client, now=lambda: NOW, updates_root=tmp_path / "updates")
    shown: list[tuple[str, str]] = []
    clerk.subscribe(lambda state, due: shown.extend((n.title_th, n.body_th) for n in due))
    starts = NOW.timestamp() + 15 * 60
    ack = await _deliver(client, p.Reminder(occurrence_id=3, title="ประชุมสงกรานต์", starts_at=starts,
                                            message_th="อีกไม่นานจะเริ่มประชุม “ประชุมสงกรานต์” เวลา 08:15 น."))
    assert ack.ok, ack.detail  # was: "unknown command 'reminder'" on every agent
    assert shown == [("ใกล้เวลาประชุม", "อีกไม่นานจะเริ่มประชุม “ประชุมสงกรานต์” เวลา 08:15 น.")]
    assert [b.key for b in clerk.state.briefings] == ["occurrence:3"]


async def test_join_and_leave_are_followed_and_a_missing_handler_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    clerk = ClerkAgent(client, now=lambda: NOW, updates_root=tmp_path / "updates")
    profile = p.MediaProfile(width=320, height=180, fps=15, kbps=200)
    ack = await _deliver(client, p.JoinConference(conference_id=4, send_profile=profile))
    assert clerk.state.in_briefing  # the clerk follows the join the media endpoint answers
    assert not ack.ok and "no handler for 'join'" in ack.detail  # no media installed on this client
    await _deliver(client, p.LeaveConference(conference_id=4))
    assert not clerk.state.in_briefing
