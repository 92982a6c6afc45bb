#!/usr/bin/env python3
"""Benchmark: build and verify the evidence package of a 20-district, 2-hour briefing.

A real hub application (this process, SQLite, media off: no picture is needed for
evidence) runs one briefing of all 20 districts through its own services: identities
for every district, a roll call, 10 polls (open and secret) with every district
voting, floor grants, and microphone changes until the audit log holds 1,000 events
about the briefing; every district has three connections in the traffic log spread
over two hours (two link drops), with the attendance intervals the conference manager
would have written for them (media is off, so the bench writes them through
hub.attendance's own writer). Then the package is built (JSON, Thai PDF, zip,
Ed25519 signature) and verified (signature, file and field digests, stored hash, the
whole audit chain). Prints one JSON line: {"build_s": .., "verify_s": .., ...}

Usage: .venv/bin/python scripts/bench_evidence.py [--events 1000] [--polls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from aiohttp import web
from sqlmodel import Session

from hub.app import create_app
from hub.attendance import store as attendance
from hub.attendance.model import Closed
from hub.conferences.keys import CONFERENCES
from hub.evidence.keys import EVIDENCE, TRAFFIC
from hub.evidence.verify import verify_file
from hub.identity.keys import IDENTITY
from hub.identity.model import Person
from hub.keys import ENGINE
from hub.polls.keys import POLLS
from hub.polls.model import Ballot, PollSpec, Voter
from hub.settings import Settings

DISTRICTS = [f"UDN{i:02d}" for i in range(1, 21)]
CHAIR = "operator:bench"


def _events(engine: sa.Engine, cid: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM audit_events WHERE target = :t OR target LIKE :p"),
                                {"t": f"conference:{cid}", "p": f"conference:{cid}/%"}).scalar() or 0)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="salaklang-bench-evidence-"))
    settings = Settings(data_dir=tmp / "var", port=0, media_enabled=False)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # migrations, inventory, registry, conference manager
    try:
        engine = app[ENGINE]
        mgr = app[CONFERENCES]
        cid = await mgr.start(DISTRICTS, "4x5", title="ประชุมศูนย์ปฏิบัติการถนนปลอดภัย (bench)", actor=CHAIR)
        identity, polls, traffic = app[IDENTITY], app[POLLS], app[TRAFFIC]
        t0 = datetime.now(UTC) - timedelta(hours=2)
        for i, site in enumerate(DISTRICTS):
            people = [Person(f"เจ้าหน้าที่ {site} คนที่ {k}", "ปลัดอำเภอ") for k in (1, 2)]
            await asyncio.to_thread(identity.confirm_site, cid, site, people, via="agent", actor=f"agent:{site}")
            for start_min, end_min, why in ((0, 40, "link_lost"), (41, 80, "link_lost"), (81, 120, "ended")):
                traffic.clock = lambda m=start_min, j=i: t0 + timedelta(minutes=m, seconds=j)
                await asyncio.to_thread(traffic.joined, cid, site, source_addr=f"10.41.{i}.10",
                                        client="salaklang-agent 0.1.0")
                traffic.clock = lambda m=end_min: t0 + timedelta(minutes=m)
                await asyncio.to_thread(traffic.left, cid, site, reason=why, quality={"loss_pct": 0.3, "rtt_ms": 21})
                with Session(engine) as s:
                    attendance.open_interval(s, cid, None, site, t0 + timedelta(minutes=start_min, seconds=i + 1))
                    attendance.close_interval(s, cid, site, t0 + timedelta(minutes=end_min), Closed(why))
                    s.commit()
        call = await asyncio.to_thread(identity.start_roll_call, cid, 600, actor=CHAIR)
        for site in DISTRICTS[:-1]:
            await asyncio.to_thread(identity.answer_roll_call, cid, call.id, site, actor=f"agent:{site}")
        for n in range(args.polls):
            ballot = Ballot.SECRET if n % 2 else Ballot.OPEN
            poll = await polls.acreate(cid, PollSpec(f"มติที่ {n + 1}", ("เห็นชอบ", "ไม่เห็นชอบ", "งดออกเสียง"), ballot),
                                       actor=CHAIR)
            for i, site in enumerate(DISTRICTS):
                await polls.avote(cid, poll.id, Voter(site), (i + n) % 3, actor=f"agent:{site}")
            await polls.aclose(cid, poll.id, actor=CHAIR)
        for site in DISTRICTS:
            await mgr.give_floor(cid, site, CHAIR)
            await mgr.take_floor(cid, CHAIR)
        k = 0
        while _events(engine, cid) < args.events - 1:  # the end writes the last one
            site = DISTRICTS[k % len(DISTRICTS)]
            # each site alternates: muted on even rounds, unmuted on odd (every call is a change)
            await mgr.mute(cid, site, (k // len(DISTRICTS)) % 2 == 0, CHAIR)
            k += 1
        await mgr.end(cid, CHAIR)
        events = _events(engine, cid)

        # WeasyPrint loads at a hub's first PDF (report or package), not at start (issue 13's RSS
        # fix): time that once-per-process load apart from the build itself.
        started = time.perf_counter()
        importlib.import_module("weasyprint")
        renderer_load_s = time.perf_counter() - started
        started = time.perf_counter()
        built = await asyncio.to_thread(app[EVIDENCE].build, cid, actor=CHAIR)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        report = await asyncio.to_thread(verify_file, engine, settings, built.path)
        verify_s = time.perf_counter() - started
        if not report.ok:
            print(report.text(), file=sys.stderr)
            return 1
        print(f"districts {len(DISTRICTS)}, polls {args.polls}, audit events {events}, "
              f"package {built.record.size / 1024:.0f} KiB ({built.path.name})", file=sys.stderr)
        print(json.dumps({"build_s": round(build_s, 3), "verify_s": round(verify_s, 3),
                          "renderer_load_s": round(renderer_load_s, 3), "districts": len(DISTRICTS),
                          "polls": args.polls, "audit_events": events, "package_bytes": built.record.size}))
    finally:
        await runner.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
