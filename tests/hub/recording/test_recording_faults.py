"""Faults while recording: the media worker killed mid-recording, the disk filling up.

Real hub, a real agent sending its picture and tone, the real media worker. The
disk is a small tmpfs mounted for the test (the tests run as root) and unmounted after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from hub.alarms.keys import ALARMS
from hub.conferences.keys import CONFERENCES
from hub.recording import store
from hub.recording.keys import RECORDINGS
from hub.settings import Settings
from tests.conftest import HubHandle
from tests.hub.media.mediakit import wait_for
from tests.hub.recording.reckit import (
    H,
    W,
    api,
    decode_all,
    district,
    ffprobe,
    finished_mp3,
    stream_durations,
)

SITE = "UDN04"
DISK_MB, THRESHOLD_MB = 24, 8

pytestmark = pytest.mark.slow


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    folder = request.getfixturevalue("disk") if "disk" in request.fixturenames else tmp_path / "rec"
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_width=W, media_height=H,
                    media_fps=15, media_kbps=600, recording_dir=folder, recording_check_s=0.5,
                    recording_min_free_mb=THRESHOLD_MB if "disk" in request.fixturenames else 0)


def rows(hub: HubHandle, cid: int) -> list[store.Recording]:
    return sorted(store.listing(hub.engine, cid), key=lambda r: r.id or 0)


async def start_conference(http: aiohttp.ClientSession, hub: HubHandle) -> int:
    conf = await api(http, hub, "POST", "/api/v1/conferences", {"sites": [SITE], "layout": "1+N", "title": "เหตุขัดข้อง"},
                     expect=201)
    cid: int = conf["id"]
    await api(http, hub, "POST", f"/api/v1/conferences/{cid}/unmute-all")
    live = hub.app[CONFERENCES].live[cid]
    assert await wait_for(lambda: live.worker is not None and live.worker.running and SITE in live.in_program, 40)
    return cid


def assert_plays(path: Path, at_least_s: float) -> None:
    probe = ffprobe(path)
    assert {s["codec_type"] for s in probe["streams"]} == {"video", "audio"}
    ends = stream_durations(path)
    assert ends["video"] >= at_least_s, ends
    pictures, audio = decode_all(path)  # every packet decodes
    assert len(pictures) >= at_least_s * 15 * 0.7 and audio.size > at_least_s * 48_000 * 0.7


async def test_sigkill_the_worker_mid_recording_leaves_a_playable_mp4(hub: HubHandle,
                                                                      http: aiohttp.ClientSession) -> None:
    async with district(hub, SITE):
        cid = await start_conference(http, hub)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/start", expect=201)
        await asyncio.sleep(6)
        worker = hub.app[CONFERENCES].live[cid].worker
        assert worker is not None and worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        assert await wait_for(lambda: rows(hub, cid)[0].state == "interrupted", 15), rows(hub, cid)[0]
        first = rows(hub, cid)[0]
        mp4 = hub.app[RECORDINGS].dir / f"{first.stem}.mp4"
        assert_plays(mp4, 4.0)
        assert first.mp4_sha256 and first.duration_s is not None and first.duration_s >= 4.0, first
        # the part cut by the crash still gets its MP3, made from what the MP4 kept
        assert first.id is not None
        await finished_mp3(http, hub, first.id)
        mp3_s = stream_durations(hub.app[RECORDINGS].dir / f"{first.stem}.mp3")["audio"]
        assert abs(mp3_s - first.duration_s) < 1.0, (mp3_s, first.duration_s)

        # the restarted worker records on, in a second part, until the operator stops it
        assert await wait_for(lambda: len(rows(hub, cid)) == 2 and rows(hub, cid)[1].state == "recording", 40)
        await asyncio.sleep(3)
        done = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/stop")
        assert done["part"] == 2 and done["stem"].endswith("-part2") and done["state"] == "finished", done
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/end")
    assert_plays(hub.app[RECORDINGS].dir / f"{done['stem']}.mp4", 1.5)


async def test_disk_below_threshold_stops_cleanly_with_an_alarm(hub: HubHandle, http: aiohttp.ClientSession,
                                                                disk: Path) -> None:
    async with district(hub, SITE):
        cid = await start_conference(http, hub)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/start", expect=201)
        await asyncio.sleep(4)
        # fill the disk to just under the threshold
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * (free - (THRESHOLD_MB - 2) * 1024 * 1024))
        assert await wait_for(lambda: rows(hub, cid)[0].state == "disk_full", 10), rows(hub, cid)[0]
        row = rows(hub, cid)[0]
        # the alarm follows the row (raised on the province's site, mailed through the outbox)
        assert await wait_for(lambda: any(a["kind"] == "recording_disk_full"
                                          for a in hub.app[ALARMS].list(open_only=True)), 10)
        # the conference goes on; a new start is refused while the disk stays low
        err = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/start", expect=507)
        assert err["code"] == "disk_low" and "พื้นที่ดิสก์" in err["error"]
        assert row.id is not None
        await finished_mp3(http, hub, row.id)  # made on the nearly full disk: a few kB per second
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/end")
    with contextlib.suppress(FileNotFoundError):
        (disk / "filler").unlink()
    assert_plays(disk / f"{row.stem}.mp4", 3.0)
    assert_plays_mp3 = stream_durations(disk / f"{row.stem}.mp3")["audio"]
    assert assert_plays_mp3 >= 3.0
    assert row.duration_s is not None and row.duration_s >= 3.0 and row.mp4_sha256, row
