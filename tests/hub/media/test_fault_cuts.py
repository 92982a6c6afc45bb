"""Cuts of a district's link beyond its PC, both directions: it comes back by itself within 5 s.

Real hub process, real aiortc agents; the faulted district runs in its own network
namespace behind a router namespace whose nftables forward chain drops the packets
(tests/hub/media/faultkit.py). Cuts: media only (UDP) for 45 s with the control channel
up, everything for 10 s, everything for 60 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.hub.media.faultkit import FAULTED, Rig, fault_rig

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(400)]

RECOVER_S = 5.0


async def cut(rig: Rig, what: str, seconds: float) -> float:
    rig.link.cut(what)
    await asyncio.sleep(seconds)
    rig.link.clear()
    return time.time()


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


async def test_full_cuts_10s_and_60s_come_back_within_5s(tmp_path: Path) -> None:
    async with fault_rig(tmp_path) as rig:
        assert rig.remote is not None
        restored = await cut(rig, "all", 10)
        up, down = await rig.recovery(restored)
        assert max(up, down) <= RECOVER_S, ("cut 10 s", up, down, await rig.summary())
        assert await rig.all_in_program(10)

        restored = await cut(rig, "all", 60)
        up, down = await rig.recovery(restored)
        assert max(up, down) <= RECOVER_S, ("cut 60 s", up, down, await rig.summary())
        assert rig.remote.last["dead_drops"] >= 1  # the agent dropped its dead control socket itself
        summary = await rig.summary()
        mine = [a for a in summary["attendance"] if a["site"] == FAULTED]
        # every interval closed by the link, the last one open (the 10 s cut may have split one too)
        assert [a["closed_reason"] for a in mine][-1] is None and len(mine) >= 2, mine
        assert all(a["closed_reason"] == "link_lost" for a in mine[:-1]), mine
