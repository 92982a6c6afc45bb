#!/usr/bin/env python3
"""Faults on one district's link, measured: how long until it is back, and what loss costs it.

    sudo .venv/bin/python scripts/bench_faults.py            # all scenarios, ~5 minutes
    sudo .venv/bin/python scripts/bench_faults.py --quick    # shorter cuts and loss (a smoke run)

Needs root (network namespaces and nftables). The rig is the fault tests' own
(tests/hub/media/faultkit.py): a real hub process with its media worker, three agents
in this process and the faulted district in its own namespace behind a router
namespace, where nftables drops the packets in both directions (beyond the PC).
Scenarios, one after the other in one conference:

- media only (UDP) cut 45 s, the control channel up;
- full cut 10 s, then 60 s;
- 5 % random loss each way for 60 s.

Per scenario it prints the seconds until the district is back both ways (uplink: the
hub decodes its pictures again; downlink: 0.5 s of program at ≥ 16 fps at the district),
the longest freeze each way and the audio gap share, then one JSON line:
``{"media_cut45_recover_s": …, "cut10_recover_s": …, "cut60_recover_s": …,
"loss5_uplink_max_gap_s": …, "loss5_program_max_freeze_s": …, "loss5_audio_gap_pct": …}``.
Targets (issue 11): recover ≤ 5 s, gaps ≤ 1 s, audio gap ≤ 2 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hub.media.faultkit import Rig, fault_rig, longest_gap
from tests.hub.media.test_fault_loss import lossy_minute


async def cut(rig: Rig, what: str, seconds: float, label: str) -> float:
    assert rig.remote is not None
    rig.link.cut(what)
    start = time.time()
    await asyncio.sleep(seconds)
    rig.link.clear()
    restored = time.time()
    up, down = await rig.recovery(restored, timeout=60)
    frames = rig.remote.frames
    print(f"{label}: back in {max(up, down):.2f} s (uplink {up:.2f} s, downlink {down:.2f} s); "
          f"program freeze at the district {longest_gap(frames, start, restored + down + 2):.1f} s "
          f"(the cut included)", flush=True)
    await rig.all_in_program(20)
    return round(max(up, down), 2)


async def main(quick: bool) -> dict[str, float]:
    scale = 0.2 if quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        async with fault_rig(Path(tmp)) as rig:
            out: dict[str, float] = {}
            out["media_cut45_recover_s"] = await cut(rig, "udp", 45 * scale, f"media-only cut {45 * scale:.0f} s")
            out["cut10_recover_s"] = await cut(rig, "all", 10 * scale, f"full cut {10 * scale:.0f} s")
            out["cut60_recover_s"] = await cut(rig, "all", 60 * scale, f"full cut {60 * scale:.0f} s")
            loss = await lossy_minute(rig, 60 * scale)
            print(f"5 % loss each way, {60 * scale:.0f} s ({loss['dropped_packets']} packets dropped): "
                  f"uplink longest gap {loss['uplink_max_gap_s']:.2f} s ({loss['uplink_skips']} holes skipped), "
                  f"program at the district {loss['program_fps']:.1f} fps, longest freeze "
                  f"{loss['program_max_freeze_s']:.2f} s, audio chunks missing {loss['audio_gap_pct']:.2f} %",
                  flush=True)
            out["loss5_uplink_max_gap_s"] = round(loss["uplink_max_gap_s"], 3)
            out["loss5_program_max_freeze_s"] = round(loss["program_max_freeze_s"], 3)
            out["loss5_audio_gap_pct"] = round(loss["audio_gap_pct"], 3)
            out["loss5_program_fps"] = round(loss["program_fps"], 1)
            return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="cuts and loss at a fifth of their length")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_faults.py needs root (network namespaces, nftables)")
    print(json.dumps(asyncio.run(main(args.quick))))
