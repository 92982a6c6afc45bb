"""Full cuts of a district's link beyond its PC, both directions: it comes back by itself within 5 s.

Real hub process, real aiortc agents; the faulted district runs in its own network
namespace behind a router namespace whose nftables forward chain drops the packets
(tests/hub/media/faultkit.py). Cuts: everything for 10 s, then for 60 s. (The media-only
cut is in test_fault_cuts.py: one long test a file, so the paired pass runs them side by side.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub.media.faultkit import FAULTED, RECOVER_S, cut, fault_rig

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(400)]

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
