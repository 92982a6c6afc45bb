"""A district agent killed and restarted; a CPU burner competing with the media worker.

SIGKILL: the district is back by itself, and attendance keeps both intervals (the first
closed "link lost"), with ``conference.left`` and ``conference.join`` audited.
Burner: two busy processes (one per core) for 40 s; once they end every district is
back in the program, by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import pytest

from tests.hub.media.faultkit import FAULTED, fault_rig

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(300)]

BURN = "import time\nend = time.monotonic() + float(__import__('sys').argv[1])\nwhile time.monotonic() < end: pass\n"


async def test_agent_sigkill_and_restart_keeps_two_intervals(tmp_path: Path) -> None:
    async with fault_rig(tmp_path, others=("UDN02",)) as rig:
        await rig.kill_remote()
        killed = time.time()
        await asyncio.sleep(2)
        mine = [a for a in (await rig.summary())["attendance"] if a["site"] == FAULTED]
        assert [a["closed_reason"] for a in mine] == ["link_lost"], mine
        assert (await rig.media_state(FAULTED))["state"] == "out"
        await rig.start_remote()
        assert await rig.all_in_program(15), await rig.summary()
        mine = [a for a in (await rig.summary())["attendance"] if a["site"] == FAULTED]
        assert [a["closed_reason"] for a in mine] == ["link_lost", None], mine
        assert mine[0]["ended_at"] <= mine[1]["started_at"]
        assert mine[0]["closed_label_th"] == "สัญญาณหลุด"
        rows = await rig.call("GET", f"/api/v1/audit?target=conference:{rig.conference_id}/{FAULTED}", admin=True)
        actions = [r["action"] for r in rows]
        assert "conference.left" in actions and actions.count("conference.join") >= 2, actions
        assert time.time() - killed < 30


async def test_cpu_burner_40s_every_district_back_after(tmp_path: Path) -> None:
    async with fault_rig(tmp_path) as rig:
        burners = [await asyncio.create_subprocess_exec(sys.executable, "-c", BURN, "40") for _ in range(2)]
        try:
            await asyncio.gather(*(b.wait() for b in burners))
        finally:
            for b in burners:
                with contextlib.suppress(ProcessLookupError):
                    b.kill()
        ended = time.monotonic()
        assert await rig.all_in_program(15), await rig.summary()
        print(f"all back {time.monotonic() - ended:.1f} s after the burner")
