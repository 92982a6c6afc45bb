"""The hub's MP3 of a finished MP4 (hub.recording.service.make_mp3): whole or nothing, and why not."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hub.recording.service import make_mp3
from tests.hub.recording.reckit import ffprobe, stream_durations


def clip(path: Path, *, sound: bool, seconds: int = 4) -> None:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=15:duration={seconds}"]
    if sound:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    subprocess.run([*cmd, "-c:v", "libx264", "-preset", "ultrafast", "-movflags",
                    "frag_keyframe+empty_moov+default_base_moof", str(path)], check=True, timeout=60)


async def test_the_mp3_has_the_mp4s_sound_and_length(tmp_path: Path) -> None:
    mp4, mp3 = tmp_path / "a.mp4", tmp_path / "a.mp3"
    clip(mp4, sound=True)
    assert await make_mp3(mp4, mp3, 60) == ""
    assert {s["codec_name"] for s in ffprobe(mp3)["streams"]} == {"mp3"}
    assert abs(stream_durations(mp3)["audio"] - stream_durations(mp4)["audio"]) < 0.2
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


async def test_no_sound_or_too_slow_leaves_no_file_and_says_why(tmp_path: Path) -> None:
    silent, mp3 = tmp_path / "silent.mp4", tmp_path / "silent.mp3"
    clip(silent, sound=False)
    why = await make_mp3(silent, mp3, 60)
    assert why and not mp3.exists() and not (tmp_path / "silent.mp3.part").exists(), why

    long, mp3 = tmp_path / "long.mp4", tmp_path / "long.mp3"
    clip(long, sound=True, seconds=20)
    why = await make_mp3(long, mp3, 0.01)  # FFmpeg's start alone takes longer
    assert "FFmpeg took over" in why and not mp3.exists() and not (tmp_path / "long.mp3.part").exists(), why

    broken, mp3 = tmp_path / "broken.mp4", tmp_path / "broken.mp3"
    broken.write_bytes(b"not an mp4 at all" * 100)
    why = await make_mp3(broken, mp3, 60)
    assert why and not mp3.exists(), why
