"""Every command the hub can send has a handler on an agent as `python -m site_agent run` installs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from site_agent import protocol as p
from site_agent.clerk.service import install_clerk
from site_agent.client import AgentClient
from site_agent.config import AgentConfig
from site_agent.features import install_features


def test_a_full_agent_handles_every_command_type(tmp_path: Path) -> None:
    config = AgentConfig(hub_url="http://127.0.0.1:9", site="UDN07", token="t" * 32, config_dir=tmp_path)
    client = AgentClient(config)
    install_clerk(client, demo=True)
    install_features(client, argparse.Namespace(demo=True, no_media=False))
    assert client.command_types == p.COMMAND_TYPES
