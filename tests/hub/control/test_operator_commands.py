"""Operators send agents only the allow-listed, typed commands (issue 12); one enrolment code
gives one token however many redeem it at once. A real hub, a real agent on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.control import http as control_http
from hub.control.enrolment import check_site_token
from hub.control.http import OPERATOR_COMMAND_TYPES
from site_agent import protocol as p
from site_agent.clerk.service import install_clerk
from site_agent.client import AgentClient
from tests.conftest import HubHandle


def test_the_allow_list_is_diagnostics_only() -> None:
    assert {"ping", "status", "selftest", "update_check", "media_status", "logs.upload"} == OPERATOR_COMMAND_TYPES
    assert OPERATOR_COMMAND_TYPES < p.COMMAND_TYPES
    # Every command that changes what an agent does or where it connects is the hub's own.
    for own in ("linkhealth.configure", "join", "media_answer", "send_profile", "leave", "clerk_state",
                "conference_state", "reminder"):
        assert own not in OPERATOR_COMMAND_TYPES


async def test_operators_cannot_send_the_hubs_own_commands(hub: HubHandle, http: aiohttp.ClientSession,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALAKLANG_AGENT_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "agent.log").write_text("a line the province wants to read\n")
    config = await hub.enrol_agent("UDN11")
    client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
    install_clerk(client, demo=True)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        url = f"{hub.url}/api/v1/sites/UDN11/commands"
        hijack = {"name": "linkhealth.configure", "args": {
            "echo_host": "203.0.113.9", "echo_port": 7, "probes_per_step": 10, "step_s": 1, "tmax_ms": 100,
            "snmp_interval_s": 1, "snmp": {"host": "203.0.113.9", "community": "public"}}}
        refused: list[tuple[dict[str, Any], int]] = [
            (hijack, 403), ({"name": "clerk_state", "args": {"help_phone": "0-0000"}}, 403),
            ({"name": "join", "args": {}}, 403), ({"name": "no-such-thing"}, 400),
            ({"name": "selftest", "args": {"occurrence_id": "x"}}, 400),
        ]
        for body, status in refused:
            async with http.post(url, json=body, headers=hub.auth("admin")) as resp:
                answer = await resp.json()
                assert resp.status == status, (body, answer)
                assert answer["field"].startswith(("name", "args")) and "ping" in answer.get("allowed", ["ping"])
            async with http.post(f"{hub.url}/api/v1/commands/broadcast", json=body, headers=hub.auth()) as resp:
                assert resp.status == status
        async with http.post(url, json={"name": "ping"}, headers=hub.auth("operator")) as resp:
            assert resp.status == 200 and (await resp.json())["result"]["type"] == "pong"
        async with http.post(url, json={"name": "logs.upload", "timeout_s": 30}, headers=hub.auth("operator")) as resp:
            answer = await resp.json()
        assert answer["ok"] is True and answer["result"]["type"] == "logs_sent" and answer["result"]["bytes"] > 0
        stored = list((hub.settings.data_dir / "agent-logs" / "UDN11").iterdir())
        assert [f.name for f in stored] == [answer["result"]["stored"]]
    finally:
        client.stop()
        await asyncio.wait_for(task, 10)


async def test_twenty_parallel_redemptions_of_one_code_give_one_token(hub: HubHandle) -> None:
    control_http._enrol_failures.clear()  # other tests' wrong codes from this same address
    code = hub.issue_code("UDN12")

    async def redeem(http: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
        async with http.post(f"{hub.url}/api/v1/enrol", json={"code": code, "hostname": "pc"}) as resp:
            return resp.status, await resp.json()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        results = await asyncio.gather(*(redeem(http) for _ in range(20)))
    control_http._enrol_failures.clear()
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 19, statuses
    assert {body["error"] for status, body in results if status == 400} == {"code_used"}
    token = next(body["token"] for status, body in results if status == 201)
    check = hub.registry.live["UDN12"]
    assert check.enrolled
    assert check_site_token(hub.engine, "UDN12", token).ok
