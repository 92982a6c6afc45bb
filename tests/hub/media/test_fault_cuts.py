"""Cuts of a district's link beyond its PC, both directions: it comes back by itself within 5 s.

Real hub process, real aiortc agents; the faulted district runs in its own network
namespace behind a router namespace whose nftables forward chain drops the packets
(tests/hub/media/faultkit.py). Here: media only (UDP) for 45 s with the control channel up;
the full cuts (10 s, 60 s) are in test_fault_cuts_full.py.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.hub.media.faultkit import FAULTED, RECOVER_S, fault_rig

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(400)]

async def test_media_only_cut_45s_rejoins_with_the_control_channel_up(tmp_path: Path) -> None:
    async with fault_rig(tmp_path) as rig:
        assert rig.remote is not None
        connects = rig.remote.last["connects"]
        rig.link.cut("udp")
        await asyncio.sleep(8)
        # Truth in the control room: the district is shown without picture / reconnecting, not "joined".
        during = await rig.media_state(FAULTED)
        assert during["state"] in ("no_picture", "reconnecting"), during
        await asyncio.sleep(37)
        during = await rig.media_state(FAULTED)
        assert during["state"] == "reconnecting" and during["attempt"] >= 2, during
        rig.link.clear()
        restored = time.time()
        up, down = await rig.recovery(restored)
        assert max(up, down) <= RECOVER_S, (up, down, await rig.summary())
        # the control channel stayed up all along: healed by a fresh offer, not a reconnect
        assert rig.remote.last["connects"] == connects
        assert await rig.all_in_program(10)
        summary = await rig.summary()
        mine = [a for a in summary["attendance"] if a["site"] == FAULTED]
        assert len(mine) == 2 and mine[0]["closed_reason"] == "link_lost" and mine[1]["ended_at"] is None, mine
