"""Every bad frame on the agent WebSocket gets an ``error`` reply and one log line, never a
traceback, before and after hello; no float an agent sends is infinite (issue 12)."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from site_agent import protocol as p
from tests.conftest import HubHandle
from tests.hub.control.test_agent_ws import hello, next_json, raw_connect

FRAMES = [
    "[" * 100_000 + "]" * 100_000,  # deep enough for RecursionError in json
    '{"type": "hello", "protocol": ' + "9" * 5_000 + "}",  # over int()'s 4,300 digits
    '{"type": "heartbeat", "seq": 1, "sent_at": NaN}',
    '{"type": "heartbeat", "seq": 1, "sent_at": Infinity}',
    '{"type": "heartbeat", "seq": 1, "sent_at": 1e999}',
    '{"type": "link_report", "source": "probe", "step_s": 10, "probes": 1, "rtt_ms_median": 1e400}',
]


@pytest.mark.parametrize("frame", FRAMES, ids=range(len(FRAMES)))
async def test_bad_first_frames_get_an_error_reply_and_one_line(
    hub: HubHandle, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    with caplog.at_level(logging.INFO, logger="hub"):
        ws = await raw_connect(hub, http)
        await ws.send_str(frame)
        reply = json.loads((await ws.receive(timeout=5)).data)
        assert reply["type"] == "error" and reply["fatal"] is True, reply
        assert reply["code"] in ("bad_json", "invalid", "too_large", "hello_required"), reply
        closing = await ws.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_after_hello_bad_frames_are_answered_and_the_agent_stays(
    hub: HubHandle, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    config = await hub.enrol_agent("UDN06")
    ws = await raw_connect(hub, http)
    assert (await hello(ws, config))["type"] == "welcome"
    with caplog.at_level(logging.INFO, logger="hub"):
        for frame in FRAMES:
            await ws.send_str(frame)
            reply = await next_json(ws)
            assert reply["type"] == "error" and reply["fatal"] is False, (frame[:40], reply)
    assert not [r for r in caplog.records if r.exc_info]
    assert hub.registry.is_online("UDN06")
    # Nothing infinite reached the live state the JSON API serves.
    assert hub.registry.live["UDN06"].link is None
    await ws.close()


def test_protocol_models_refuse_non_finite_floats() -> None:
    with pytest.raises(ValueError):
        p.Heartbeat(seq=1, sent_at=float("inf"))
    with pytest.raises(ValueError):
        p.LinkReport(source="probe", step_s=10, probes=1, rtt_ms_median=float("nan"))
    with pytest.raises(p.ProtocolError) as info:
        p.decode_any('{"type": "heartbeat", "seq": 1, "sent_at": -Infinity}')
    assert info.value.code == "bad_json"
