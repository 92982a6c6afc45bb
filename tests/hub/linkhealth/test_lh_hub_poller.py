"""The hub's own SNMP poller (setting linkhealth_hub_snmp_poll) against a real snmpd."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from hub.db import session_scope
from hub.linkhealth.keys import LINKHEALTH
from hub.linkhealth.store import SnmpSample
from hub.models import Link, Site
from hub.settings import Settings
from tests.conftest import HubHandle, start_hub
from tests.hub.linkhealth.conftest import COMMUNITY, Snmpd

pytestmark = pytest.mark.slow

LO_INDEX = int(Path("/sys/class/net/lo/ifindex").read_text())


async def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_hub_polls_inventory_targets_as_a_second_opinion(
    tmp_path: Path, snmpd: Snmpd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LH_HUB_COMMUNITY", COMMUNITY)
    settings = Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                        linkhealth_hub_snmp_poll=True, linkhealth_snmp_interval_s=1.0)
    hub: HubHandle = await start_hub(settings, tmp_path)
    try:
        # The hub re-reads its targets every cycle: point UDN02's router at the real snmpd
        # (after start, since starting syncs the inventory); the other districts keep
        # inventory targets whose community variable is unset here.
        def point_router() -> None:
            with session_scope(hub.engine) as session:
                link = session.exec(select(Link).join(Site, Site.id == Link.site_id).where(Site.code == "UDN02")).one()  # type: ignore[arg-type]
                link.snmp_host, link.snmp_port, link.snmp_version = "127.0.0.1", snmpd.port, "2c"
                link.snmp_if_index, link.snmp_community_env = LO_INDEX, "LH_HUB_COMMUNITY"
                session.add(link)

        await asyncio.to_thread(point_router)
        lh = hub.app[LINKHEALTH]
        await wait_for(lambda: (lh.live["UDN02"].hub_snmp or {}).get("state") == "ok")
        await wait_for(lambda: (lh.live["UDN02"].hub_snmp or {}).get("interval_s") is not None
                       or "implausible" in (lh.live["UDN02"].hub_snmp or {}).get("events", []))
        figures = lh.live["UDN02"].hub_snmp or {}
        assert figures["source"] == "hub" and figures["oper_status_name"] == "up"
        assert lh.live["UDN02"].snmp is None  # the agent's own figures stay separate
        other = lh.live["UDN03"].hub_snmp or {}
        assert other.get("state") == "config_error" and "community" in other.get("detail", "")

        def rows() -> list[SnmpSample]:
            with session_scope(hub.engine) as session:
                return list(session.exec(select(SnmpSample).where(SnmpSample.source == "hub")))

        stored = await asyncio.to_thread(rows)
        assert {r.state for r in stored} >= {"ok", "config_error"}
    finally:
        await hub.runner.cleanup()
