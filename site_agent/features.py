"""What a running agent does beyond the control channel: each feature installs itself here.

Features register command handlers and connected-time loops on the client;
this keeps `cli.py` and the demo free of feature wiring.
"""

from __future__ import annotations

import argparse
import logging

from site_agent.client import AgentClient

log = logging.getLogger("site_agent.features")


def install_features(client: AgentClient, args: argparse.Namespace | None = None) -> None:
    """Install every feature's handlers on ``client`` (headless and tray alike)."""
    from site_agent.clerk import install_clerk
    from site_agent.probe import attach_link_health

    install_clerk(client, demo=bool(args is not None and getattr(args, "demo", False)))  # issue 7
    attach_link_health(client)  # UDP probes to the hub and the router's SNMP (issue 5)
