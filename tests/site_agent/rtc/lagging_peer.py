"""An ICE peer whose event loop is busy most of the time (a loaded hub or an old notebook).

Run as ``python -m tests.site_agent.rtc.lagging_peer BUSY_S``: reads the other side's
credentials and candidates as one JSON line on stdin, prints its own, connects, then blocks its
own event loop for BUSY_S out of every BUSY_S + 0.1 s, so every STUN answer it gives is late.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aioice import Candidate, Connection


async def main(busy_s: float) -> None:
    conn = Connection(ice_controlling=False, components=1, use_ipv6=False)
    await conn.gather_candidates()
    print(json.dumps({"ufrag": conn.local_username, "pwd": conn.local_password,
                      "candidates": [c.to_sdp() for c in conn.local_candidates]}), flush=True)
    other = json.loads(await asyncio.to_thread(sys.stdin.readline))
    conn.remote_username, conn.remote_password = other["ufrag"], other["pwd"]
    for sdp in other["candidates"]:
        await conn.add_remote_candidate(Candidate.from_sdp(sdp))
    await conn.add_remote_candidate(None)
    await conn.connect()
    print("connected", flush=True)
    while True:
        time.sleep(busy_s)  # noqa: ASYNC251 — the point: the loop answers nothing while this runs
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
