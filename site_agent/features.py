"""What a running agent does beyond the control channel: each feature installs itself here.

Features register command handlers and connected-time loops on the client;
this keeps `cli.py` and the demo free of feature wiring. The clerk (self-test,
floor, reminders, updates) is the entry point's own: see site_agent.clerk.
"""

from __future__ import annotations

import argparse
import logging

from site_agent.client import AgentClient
from site_agent.media.endpoint import install_for_agent
from site_agent.media.stats import report_webrtc
from site_agent.netmon.probe import attach_link_health

log = logging.getLogger("site_agent.features")


def install_features(client: AgentClient, args: argparse.Namespace | None = None, *, headless: bool = True) -> None:
    """Install the non-UI features on ``client``; the caller owns the clerk (headless, tray or window).

    ``headless=False`` (the tray on a meeting-room PC) plays the program in a window with sound.
    """
    demo = bool(args is not None and getattr(args, "demo", False))
    attach_link_health(client)  # UDP probes to the hub and the router's SNMP (issue 5)
    if not (args is not None and getattr(args, "no_media", False)):
        endpoint = install_for_agent(client, demo=demo, headless=headless)  # camera, mic, program (issue 3)
        # During a conference, the media's own view of the link, beside the probes (issue 5).
        client.add_start_task(lambda c: report_webrtc(c, endpoint))
