"""Link colour bands are declared once (site_agent.netmon.thresholds) and the agent judges its
link with the hub's own bands: they travel in the linkhealth.configure command."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

import pytest

from hub.linkhealth.keys import LINKHEALTH
from hub.settings import Settings
from site_agent.client import AgentClient
from site_agent.netmon.probe import LinkHealthConfig, attach_link_health
from site_agent.netmon.thresholds import (
    DEFAULT_PROBES_PER_STEP,
    DEFAULT_STEP_S,
    DEFAULT_TMAX_MS,
    Thresholds,
)
from tests.conftest import start_hub


def test_hub_settings_and_agent_defaults_are_the_netmon_declarations() -> None:
    s = Settings()
    bands = Thresholds()
    assert {f.name: getattr(s, f"linkhealth_{f.name}") for f in dataclasses.fields(Thresholds)} == bands.to_json()
    assert (s.linkhealth_probes_per_step, s.linkhealth_step_s, s.linkhealth_tmax_ms) == (
        DEFAULT_PROBES_PER_STEP, DEFAULT_STEP_S, DEFAULT_TMAX_MS)
    agent = LinkHealthConfig()
    assert (agent.probes_per_step, agent.step_s, agent.tmax_ms, agent.thresholds) == (
        DEFAULT_PROBES_PER_STEP, DEFAULT_STEP_S, DEFAULT_TMAX_MS, bands)


@pytest.mark.slow
async def test_agent_gets_the_hubs_bands(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", port=0, host="127.0.0.1", linkhealth_step_s=5.0,
        linkhealth_rtt_amber_ms=42.0, linkhealth_rtt_red_ms=142.0, linkhealth_loss_red_pct=3.0,
    )
    hub = await start_hub(settings, tmp_path)
    try:
        config = await hub.enrol_agent("UDN03")
        client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
        agent = attach_link_health(client)
        task = asyncio.create_task(client.run())
        try:
            await client.wait_connected(timeout=10)
            await hub.wait_for(lambda: agent.config is not None)
            assert agent.config is not None
            expected = Thresholds(rtt_amber_ms=42.0, rtt_red_ms=142.0, loss_red_pct=3.0)
            assert agent.config.thresholds == expected
            assert hub.app[LINKHEALTH].thresholds == expected  # the hub colours with the same object type
            assert agent.config.step_s == 5.0
        finally:
            client.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
    finally:
        await hub.runner.cleanup()
