"""The clerk's meeting part, fast: the hub's commands change what the window shows, briefing by briefing."""

from __future__ import annotations

from pathlib import Path

import pytest

from site_agent import protocol as p
from site_agent.clerk.meeting import ClerkMeeting, MeetingError, MeetingState
from site_agent.client import AgentClient
from site_agent.config import AgentConfig


@pytest.fixture
def meeting(tmp_path: Path) -> ClerkMeeting:
    config = AgentConfig(hub_url="http://127.0.0.1:9", site="UDN07", token="t" * 32, config_dir=tmp_path)
    return ClerkMeeting(AgentClient(config))


async def test_commands_build_the_window_state(meeting: ClerkMeeting) -> None:
    seen: list[MeetingState] = []
    meeting.subscribe(seen.append)
    with pytest.raises(MeetingError):  # nothing to answer yet: said in Thai and English
        await meeting.answer_roll_call()
    await meeting._cmd_poll_open(p.PollOpen(conference_id=3, poll_id=1, question="ก?", options=["ใช่", "ไม่"]))
    assert meeting.state.conference_id == 3 and meeting.state.open_polls()[0].open_for()
    await meeting._cmd_identity_prompt(p.IdentityPrompt(conference_id=3, title="ประชุม",
                                                        people=[p.PersonWire(name="นายก", position="นายอำเภอ")]))
    assert meeting.state.identity_confirmed and meeting.state.people == (("นายก", "นายอำเภอ"),)
    await meeting._cmd_roll_call(p.RollCallStart(conference_id=3, roll_call_id=9, deadline=4e9, seconds=60))
    await meeting._cmd_answer(p.MeetingAnswer(conference_id=3, action="rollcall", ok=False,
                                              reason="roll_call_answered", ref=9))
    assert meeting.state.roll_call_answered  # "already answered" still means answered
    await meeting._cmd_poll_closed(p.PollClosed(conference_id=3, poll_id=1, counts=[2, 0]))
    assert meeting.state.polls[0].closed and meeting.state.polls[0].counts == (2, 0)
    # A refusal for another briefing starts afresh: nothing of briefing 3 is left on screen.
    await meeting._cmd_join_refused(p.JoinRefused(conference_id=4, reason="second_factor_required",
                                                  message_th="ต้องใช้รหัส", message_en="code", second_factor=True))
    s = meeting.state
    assert (s.conference_id, s.polls, s.people, s.roll_call_id) == (4, (), (), None)
    assert s.refused is not None and s.refused.second_factor and not s.message_ok
    await meeting._cmd_answer(p.MeetingAnswer(conference_id=4, action="joincode", ok=True, reason="verified"))
    assert meeting.state.refused is None
    assert len(seen) == 7  # one state per command
    with pytest.raises(MeetingError):
        await meeting.confirm_people([("  ", "ปลัด")])  # no name: refused before anything is sent
