"""Record a real conference: two real agents send their tones and pictures, the hub records, we check the files.

Real hub (control WebSocket, conference manager, media worker process), real agents
(AgentClient + media endpoint over aiortc), the API an operator uses, ffprobe and PyAV
on the files. "No re-encoding" is checked against what a district *received*: each
encoded picture the receiving agent's jitter buffer reassembled from RTP (after
packetization, the network and depacketization) is compared byte for byte with the
MP4's pictures. That is the honest comparison: the encoder's own output would also
match a recorder that taps before the network, but only the district's copy proves
the file holds the same pictures the districts got.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from hub.recording.keys import RECORDINGS
from hub.settings import Settings
from tests.conftest import HubHandle
from tests.hub.media.mediakit import COLOURS, TONES, close_to, colour_at, wait_for
from tests.hub.recording.reckit import (
    H,
    W,
    api,
    decode_all,
    district,
    ffprobe,
    finished_mp3,
    floor_db,
    mp4_pictures,
    received_pictures,
    stream_durations,
    tone_db,
)

A, B = "UDN02", "UDN03"
RECORD_S = 12.0

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_width=W, media_height=H,
                    media_fps=15, media_kbps=600, recording_min_free_mb=0, recording_check_s=0.5)


async def test_record_a_conference_mp4_and_mp3(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with district(hub, A), district(hub, B) as b:
        conf = await api(http, hub, "POST", "/api/v1/conferences",
                         {"sites": [A, B], "layout": "1+N", "title": "ประชุมทดสอบการบันทึก"}, expect=201)
        cid = conf["id"]
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/unmute-all")
        assert await wait_for(lambda: b.program is not None and close_to(colour_at(b.program, 60, 50), COLOURS[A]),
                              40), "the program never reached the receiving district"
        await b.tap_received()

        # bad input first: nothing is recording yet
        err = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/stop", expect=409)
        assert err["code"] == "not_recording" and "ไม่ได้บันทึก" in err["error"] and "not being recorded" in err["error"]
        await api(http, hub, "POST", "/api/v1/conferences/999999/recording/start", expect=409)

        b.capturing = True
        started = time.monotonic()
        rec = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/start", expect=201)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/start", expect=409)  # already
        await asyncio.sleep(RECORD_S)
        done = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/stop")
        wall = time.monotonic() - started
        await asyncio.sleep(0.5)  # the last pictures reach the district
        b.capturing = False
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/end")

    assert done["id"] == rec["id"] and done["state"] == "finished", done
    # the MP3 is made by the hub from the MP4's sound, after the stop, outside the media worker
    assert not done["files"]["mp3"]["sha256"] and done["mp3_pending"], done
    done = await finished_mp3(http, hub, done["id"])
    assert done["stem"].startswith("ประชุมทดสอบการบันทึก_"), done["stem"]
    folder = hub.app[RECORDINGS].dir
    mp4, mp3 = folder / f"{done['stem']}.mp4", folder / f"{done['stem']}.mp3"

    # streams present, durations within 1 s of each other and of the wall time
    probe = ffprobe(mp4)
    kinds = {s["codec_type"]: s["codec_name"] for s in probe["streams"]}
    assert kinds == {"video": "h264", "audio": "aac"}, kinds
    assert {s["codec_name"] for s in ffprobe(mp3)["streams"]} == {"mp3"}
    ends = stream_durations(mp4)
    mp3_end = stream_durations(mp3)["audio"]
    figures = [ends["video"], ends["audio"], mp3_end, float(probe["format"]["duration"])]
    assert max(figures) - min(figures) < 1.0, figures
    assert abs(ends["video"] - wall) < 1.0, (ends, wall)
    assert abs(done["duration_s"] - ends["video"]) < 0.2, done

    # the stored SHA-256 is the file's
    assert done["files"]["mp4"]["sha256"] == hashlib.sha256(mp4.read_bytes()).hexdigest()
    assert done["files"]["mp3"]["sha256"] == hashlib.sha256(mp3.read_bytes()).hexdigest()

    # a decoded frame shows the program: the first participant in the large tile, the other beside it
    pictures, audio = decode_all(mp4)
    assert len(pictures) > RECORD_S * 15 * 0.8
    last = pictures[-1]
    assert close_to(colour_at(last, 60, 50), COLOURS[A]), colour_at(last, 60, 50)
    assert any(close_to(colour_at(last, x, y), COLOURS[B]) for x in range(250, 320, 8) for y in range(5, 60, 8))

    # both tones are audible in the MP4's AAC and in the MP3 (FFT, well above the spectrum's floor)
    _, mp3_audio = decode_all(mp3)
    for samples in (audio, mp3_audio):
        clip = samples[48_000:48_000 * 4] * 32768
        base = floor_db(clip)
        for code in (A, B):
            assert tone_db(clip, TONES[code]) - base > 30, (code, tone_db(clip, TONES[code]), base)

    # the MP4's pictures are the very bytes the district received: no re-encoding
    in_file = mp4_pictures(mp4)
    got = received_pictures(b.received)
    got_set, file_set = set(got), set(in_file)
    assert len(in_file) > 100 and len(got) > 100, (len(in_file), len(got))
    shared = file_set & got_set
    assert len(shared) >= 0.9 * len(file_set), f"{len(shared)} of {len(file_set)} recorded pictures match"

    # listed and downloadable, with Range (a browser's player seeks)
    listing = await api(http, hub, "GET", f"/api/v1/recordings?conference_id={cid}", role="viewer")
    assert [r["id"] for r in listing["recordings"]] == [rec["id"]]
    size = mp4.stat().st_size
    async with http.get(hub.url + done["files"]["mp4"]["url"], headers={**hub.auth("viewer"), "Range": "bytes=100-1099"}) as resp:
        assert resp.status == 206
        assert resp.headers["Content-Range"] == f"bytes 100-1099/{size}"
        assert await resp.read() == mp4.read_bytes()[100:1100]
    async with http.get(hub.url + done["files"]["mp3"]["url"], headers=hub.auth("viewer")) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "audio/mpeg"
        assert await resp.read() == mp3.read_bytes()

    # every start and stop is an audit event
    with hub.engine.connect() as c:
        actions = [r[0] for r in c.execute(sa.text(
            "SELECT action FROM audit_events WHERE target = :t ORDER BY id"), {"t": f"recording:{rec['id']}"})]
    assert actions == ["recording.start", "recording.stop", "recording.mp3"], actions
