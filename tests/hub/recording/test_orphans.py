"""A hub that died while recording: at the next start the orphaned files are finished (duration, SHA-256).

One orphan was written by a recorder that still wrote the MP3 itself (kept as it is);
the other has only its MP4, as the worker writes now: the hub makes its MP3 from it.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path

from hub.db import create_db_engine, migrate
from hub.models import utcnow
from hub.recording import store
from hub.settings import Settings
from tests.conftest import start_hub
from tests.hub.recording.reckit import stream_durations


def cut_files(folder: Path, stem: str) -> None:
    # what a killed recorder leaves: a fragmented MP4 cut mid-fragment, an MP3 cut mid-frame
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15:duration=4",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration",
                    "1000000", str(folder / "whole.mp4")], check=True, timeout=60)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
                    "-c:a", "libmp3lame", str(folder / "whole.mp3")], check=True, timeout=60)
    whole = (folder / "whole.mp4").read_bytes()
    (folder / f"{stem}.mp4").write_bytes(whole[: int(len(whole) * 0.8)])
    (folder / f"{stem}.mp3").write_bytes((folder / "whole.mp3").read_bytes()[:-100])


async def test_next_start_finishes_orphaned_recordings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_enabled=False,
                        recording_min_free_mb=0)
    folder = settings.data_dir / "recordings"
    folder.mkdir(parents=True)
    stem, bare = "ประชุมเช้า_2026-12-01_083000", "ประชุมเช้า_2026-12-02_083000"
    await asyncio.to_thread(cut_files, folder, stem)
    (folder / f"{bare}.mp4").write_bytes((folder / f"{stem}.mp4").read_bytes())
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    row = store.insert(engine, store.Recording(conference_id=7, title="ประชุมเช้า", stem=stem, started_at=utcnow()))
    only_mp4 = store.insert(engine, store.Recording(conference_id=8, title="ประชุมเช้า", stem=bare,
                                                    started_at=utcnow()))
    engine.dispose()

    handle = await start_hub(settings, tmp_path)
    try:
        assert row.id is not None
        done = store.get(handle.engine, row.id)
        assert done is not None and done.state == "interrupted" and done.ended_at is not None, done
        assert done.mp4_sha256 == hashlib.sha256((folder / f"{stem}.mp4").read_bytes()).hexdigest()
        assert done.mp3_sha256 == hashlib.sha256((folder / f"{stem}.mp3").read_bytes()).hexdigest()
        assert done.duration_s is not None and 2.0 <= done.duration_s <= 4.0, done.duration_s

        assert only_mp4.id is not None
        for _ in range(150):
            made = store.get(handle.engine, only_mp4.id)
            assert made is not None
            if made.mp3_sha256:
                break
            await asyncio.sleep(0.2)
        mp3 = folder / f"{bare}.mp3"
        assert made.state == "interrupted" and made.mp3_sha256 == hashlib.sha256(mp3.read_bytes()).hexdigest()
        assert made.mp3_bytes == mp3.stat().st_size and not (folder / f"{bare}.mp3.part").exists()
        assert made.duration_s is not None
        assert abs(stream_durations(mp3)["audio"] - made.duration_s) < 1.0
    finally:
        await handle.runner.cleanup()
