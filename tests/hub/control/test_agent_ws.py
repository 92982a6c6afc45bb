"""The agent WebSocket under good and bad behaviour, against a real hub on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from hub import audit
from hub.control.registry import CommandRefused
from site_agent import protocol as p
from site_agent.config import AgentConfig
from tests.conftest import HubHandle, start_hub


async def raw_connect(hub: HubHandle, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(hub.url.replace("http", "ws") + "/agent/ws", max_msg_size=0)


async def hello(ws: aiohttp.ClientWebSocketResponse, config: AgentConfig, **over: Any) -> dict[str, Any]:
    msg = p.Hello(site=over.pop("site", config.site), token=over.pop("token", config.token),
                  agent_version=over.pop("agent_version", "0.1.0"), **over)
    await ws.send_str(p.encode(msg))
    return json.loads((await ws.receive(timeout=5)).data)


async def next_json(ws: aiohttp.ClientWebSocketResponse, skip: tuple[str, ...] = ("heartbeat_ack", "command")) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data: dict[str, Any] = json.loads(msg.data)
        if data["type"] not in skip:
            return data


async def test_agent_connects_heartbeats_and_goes_offline_on_close(
    hub: HubHandle, http: aiohttp.ClientSession
) -> None:
    config = await hub.enrol_agent("UDN05")
    ws = await raw_connect(hub, http)
    welcome = await hello(ws, config)
    assert welcome["type"] == "welcome" and welcome["name_th"] == "โนนสะอาด"
    assert hub.registry.is_online("UDN05")
    await ws.send_str(p.encode(p.Heartbeat(seq=1, sent_at=123.0)))
    ack = await next_json(ws, skip=("command",))
    assert ack == {"type": "heartbeat_ack", "seq": 1, "echo_sent_at": 123.0}
    await ws.close()
    await hub.wait_for(lambda: not hub.registry.is_online("UDN05"), 5)
    assert hub.registry.live["UDN05"].online is False


async def test_wrong_token_is_refused_and_audited(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    config = await hub.enrol_agent("UDN01")
    ws = await raw_connect(hub, http)
    reply = await hello(ws, config, token="x" * 43)
    assert reply["type"] == "error" and reply["code"] == "auth_failed" and reply["fatal"] is True
    closing = await ws.receive(timeout=5)
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == p.CLOSE_AUTH_FAILED
    events = audit.recent(hub.engine, action_prefix="agent.auth_refused")
    assert events and events[0].target == "UDN01" and events[0].ok is False


async def test_token_of_site_a_cannot_claim_site_b(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    a = await hub.enrol_agent("UDN02")
    await hub.enrol_agent("UDN03")
    ws = await raw_connect(hub, http)
    reply = await hello(ws, a, site="UDN03")
    assert reply["code"] == "auth_failed"
    assert not hub.registry.is_online("UDN03")
    event = audit.recent(hub.engine, action_prefix="agent.auth_refused")[0]
    assert event.detail == {"claimed_site": "UDN03", "token_of": "UDN02"}


async def test_old_agent_gets_update_required_then_clean_close(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    hub.settings.min_agent_version = "0.1.0"
    config = await hub.enrol_agent("UDN04")
    ws = await raw_connect(hub, http)
    reply = await hello(ws, config, agent_version="0.0.9")
    assert reply["type"] == "update_required"
    assert reply["min_version"] == "0.1.0" and reply["your_version"] == "0.0.9"
    assert "0.1.0" in reply["message_th"] and "ศาลากลาง" in reply["message_th"]
    closing = await ws.receive(timeout=5)
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == p.CLOSE_UPDATE_REQUIRED
    assert not hub.registry.is_online("UDN04")


async def test_first_message_must_be_hello(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    ws = await raw_connect(hub, http)
    await ws.send_str(p.encode(p.Heartbeat(seq=0, sent_at=1)))
    reply = json.loads((await ws.receive(timeout=5)).data)
    assert reply["code"] == "hello_required"


async def test_garbage_unknown_and_oversized_frames_get_errors_and_connection_survives(
    hub: HubHandle, http: aiohttp.ClientSession
) -> None:
    config = await hub.enrol_agent("UDN06")
    ws = await raw_connect(hub, http)
    assert (await hello(ws, config))["type"] == "welcome"
    cases = [
        ("{{{ garbage", "bad_json"),
        ('{"type": "self_destruct"}', "unknown_type"),
        ('{"type": "heartbeat", "seq": "x", "sent_at": 1}', "invalid"),
        ("x" * (hub.settings.max_frame_bytes + 10), "too_large"),
    ]
    for frame, code in cases:
        await ws.send_str(frame)
        reply = await next_json(ws)
        assert reply["type"] == "error" and reply["code"] == code, reply
    await ws.send_bytes(b"\xff\xfebinary junk")
    assert (await next_json(ws))["code"] == "bad_encoding"
    # Still the same, working connection:
    await ws.send_str(p.encode(p.Heartbeat(seq=9, sent_at=1)))
    assert (await next_json(ws, skip=("command",)))["type"] == "heartbeat_ack"
    assert hub.registry.is_online("UDN06")


async def test_absurd_frame_closes_only_that_agent(hub: HubHandle, http: aiohttp.ClientSession, run_agent: Any) -> None:
    other = await hub.enrol_agent("UDN07")
    bad = await hub.enrol_agent("UDN08")
    async with run_agent(other):
        ws = await raw_connect(hub, http)
        await hello(ws, bad)
        await ws.send_str("y" * (hub.settings.max_frame_bytes * 5))
        closing = await ws.receive(timeout=5)
        while closing.type == aiohttp.WSMsgType.TEXT:  # unsolicited commands sent before the close
            closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await hub.wait_for(lambda: not hub.registry.is_online("UDN08"), 5)
        assert hub.registry.is_online("UDN07")


async def test_flood_is_rate_limited_then_closed_while_others_are_served(
    hub: HubHandle, http: aiohttp.ClientSession, run_agent: Any
) -> None:
    hub.settings.agent_flood_close_after = 300
    calm = await hub.enrol_agent("UDN09")
    noisy = await hub.enrol_agent("UDN10")
    for conn in list(hub.registry.connections.values()):
        await conn.ws.close()
    async with run_agent(calm) as calm_client:
        ws = await raw_connect(hub, http)
        await hello(ws, noisy)
        frame = p.encode(p.Status(state="idle"))
        for _ in range(hub.settings.agent_msgs_burst + 400):
            await ws.send_str(frame)
        codes = []
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                assert msg.data == p.CLOSE_FLOOD
                break
            data = json.loads(msg.data)
            if data["type"] == "error":
                codes.append(data["code"])
        assert "rate_limited" in codes and codes[-1] == "flood"
        # The calm district was answered all along.
        started = time.monotonic()
        pong = await hub.registry.send_command("UDN09", p.Ping(echo=1))
        assert pong.echo == 1 and time.monotonic() - started < 2
        assert calm_client.connected
    assert audit.recent(hub.engine, action_prefix="agent.flood_closed")[0].target == "UDN10"


async def test_second_connection_replaces_the_first(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    config = await hub.enrol_agent("UDN11")
    first = await raw_connect(hub, http)
    await hello(first, config)
    second = await raw_connect(hub, http)
    assert (await hello(second, config))["type"] == "welcome"
    closing = await first.receive(timeout=5)
    while closing.type == aiohttp.WSMsgType.TEXT:  # unsolicited commands sent before the close
        closing = await first.receive(timeout=5)
    assert closing.data == p.CLOSE_REPLACED
    await asyncio.sleep(0.1)
    assert hub.registry.is_online("UDN11")


async def test_silent_agent_goes_offline_within_the_limit(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    hub.settings.offline_after_s = 1.5
    config = await hub.enrol_agent("UDN12")
    ws = await raw_connect(hub, http)
    await hello(ws, config)
    started = time.monotonic()
    await hub.wait_for(lambda: not hub.registry.is_online("UDN12"), 5)
    assert time.monotonic() - started < 3.5


async def test_commands_are_acked_and_unknown_commands_fail_cleanly(hub: HubHandle, run_agent: Any) -> None:
    config = await hub.enrol_agent("UDN13")
    async with run_agent(config):
        pong = await hub.registry.send_command("UDN13", p.Ping(echo=5))
        assert isinstance(pong, p.Pong) and pong.echo == 5
        # A bare client has no media: a command without a handler is refused at once, by name.
        with pytest.raises(CommandRefused, match="no handler for 'media_status'"):
            await hub.registry.send_command("UDN13", p.MediaStatus(), timeout=5)


@pytest.mark.slow
async def test_agent_reconnects_after_hub_restart_on_same_port(
    hub: HubHandle, run_agent: Any, tmp_path: Any
) -> None:
    config = await hub.enrol_agent("UDN14")
    port = int(hub.url.rsplit(":", 1)[1])
    async with run_agent(config) as client:
        connects = client.connects
        await hub.runner.cleanup()  # graceful: agents are told, sockets closed
        await asyncio.sleep(0.3)
        assert not client.connected
        hub.settings.port = port
        again = await start_hub(hub.settings, tmp_path)
        try:
            await asyncio.wait_for(client.wait_connected(), 10)
            await again.wait_for(lambda: again.registry.is_online("UDN14"), 10)
            assert client.connects == connects + 1
        finally:
            await again.runner.cleanup()
        hub.runner = again.runner  # the fixture cleans up the live one
