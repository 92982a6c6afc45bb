"""An ICE peer that answers late: a busy event loop, or a full socket receive queue.

Run as ``python -m tests.site_agent.rtc.lagging_peer BUSY_S`` or ``... --queued DELAY_S``: reads
the other side's credentials and candidates as one JSON line on stdin, prints its own,
connects, then either

- blocks its own event loop for BUSY_S out of every BUSY_S + 0.1 s (a loaded hub or an old
  notebook: every STUN answer it gives is up to BUSY_S late), or
- handles every datagram DELAY_S after it arrived (``--queued``): what a socket receive queue
  that the loop drains slower than it fills does — measured in issue 17's bench, every datagram
  from a district waited 4–8 s in the hub's queue — so every answer is DELAY_S late, later
  than the other side's retransmissions.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from aioice import Candidate, Connection, ice


def queue_inbound(delay_s: float) -> None:
    """Every datagram any StunProtocol of this process receives is handled ``delay_s`` later."""
    original = ice.StunProtocol.datagram_received

    def datagram_received(self: ice.StunProtocol, data: bytes | str, addr: tuple[Any, ...]) -> None:
        asyncio.get_running_loop().call_later(delay_s, original, self, data, addr)

    ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]


async def main(argv: list[str]) -> None:
    queued = argv[0] == "--queued"
    delay_s = float(argv[-1])
    if queued:
        queue_inbound(delay_s)
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
    if queued:
        # This peer only answers: its own checks would see the same delay and close it.
        if conn._query_consent_task is not None:
            conn._query_consent_task.cancel()
        await asyncio.Event().wait()
    while True:
        time.sleep(delay_s)  # noqa: ASYNC251 — the point: the loop answers nothing while this runs
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
