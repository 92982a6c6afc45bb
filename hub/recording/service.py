"""Recording runtime: start/stop through the media worker, the watch loop, finishing files, clean-up.

The worker writes the files (hub.media.recorder); this side decides *when*: an
operator's start/stop, every scheduled briefing whose series records (never a
confidential one), a new part after the media worker restarted. Each second the
watch loop asks every running recording's worker how it is: a dead worker or a
stop of its own (disk below the threshold) finishes the row — duration and SHA-256
of the files as they are, which a fragmented MP4 keeps playable — and disk-full
raises an alarm. Rows still "recording" at start-up are a hub crash's orphans and
are finished the same way. Every start, stop, hold and delete is an audit event.

The worker writes only the MP4. Each finished MP4's MP3 is made here, from its
AAC, by FFmpeg at low priority, one at a time (`_mp3_loop`): the briefing's
media worker does not spend on it while the districts are connected, and an MP4
cut by a crash still gets its MP3. Rows whose MP3 is missing at start-up (a hub
stopped while making one) are queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import sqlalchemy as sa

from hub import audit
from hub.alarms.service import Alarms
from hub.conferences.manager import ConferenceManager, LiveConference
from hub.identity.service import IdentityService
from hub.media import channel
from hub.media.client import MediaWorker, MediaWorkerError
from hub.models import utcnow
from hub.recording import store
from hub.recording.model import KINDS, RecState, expired, file_stem, refusal, should_record
from hub.settings import Settings

log = logging.getLogger("hub.recording")
ALARM_KIND = "recording_disk_full"


def target(recording_id: int) -> str:
    return f"recording:{recording_id}"


def sha256_of(path: Path) -> tuple[str, int]:
    if not path.is_file():
        return "", 0
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest(), path.stat().st_size


def media_duration(path: Path) -> float | None:
    """Seconds of the longest stream, read from the packets (a crashed fragmented MP4 has no total)."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        with av.open(str(path)) as container:
            end = 0.0
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue
                stop = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = max(end, stop)
            return round(end, 3)
    except (av.FFmpegError, OSError, ValueError):
        return None


# AAC at 96 kbit/s → MP3 at 64 kbit/s for speech; LAME's quality 7 costs a third of its default.
MP3_ARGS = ("-c:a", "libmp3lame", "-b:a", "64k", "-compression_level", "7")


def partial(mp3: Path) -> Path:
    """Where :func:`make_mp3` writes before the file is whole."""
    return mp3.with_name(mp3.name + ".part")


async def make_mp3(mp4: Path, mp3: Path, timeout_s: float) -> str:
    """The MP3 of an MP4's sound (FFmpeg under ``nice``), written whole or not at all: "" or why not."""
    part = partial(mp3)
    proc = await asyncio.create_subprocess_exec(
        "nice", "-n", "10", "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(mp4), "-map", "0:a:0", "-vn",
        *MP3_ARGS, "-f", "mp3", str(part), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    async def undo() -> None:  # no half-written MP3 stays behind
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        part.unlink(missing_ok=True)

    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        await undo()
        return f"FFmpeg took over {timeout_s:.0f} s"
    except asyncio.CancelledError:  # the hub stopping: the next start queues it again
        await undo()
        raise
    if proc.returncode != 0:
        part.unlink(missing_ok=True)
        return err.decode("utf-8", "replace").strip()[-300:] or f"FFmpeg exited with {proc.returncode}"
    os.replace(part, mp3)
    return ""


@dataclass
class Active:
    recording_id: int
    conference_id: int
    worker: MediaWorker
    pid: int | None
    part: int
    stem: str


class RecordingService:
    def __init__(self, settings: Settings, engine: sa.Engine, conferences: ConferenceManager,
                 identity: IdentityService, alarms: Alarms, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.engine = engine
        self.conferences = conferences
        self.identity = identity
        self.alarms = alarms
        self.clock = clock
        self.dir = (settings.recording_dir or settings.data_dir / "recordings").resolve()
        self.active: dict[int, Active] = {}  # conference id → its running part
        self._considered: set[int] = set()  # conferences the auto rule has looked at
        self._resume: dict[int, int] = {}  # conference id → next part, after a worker restart
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._mp3_queue: asyncio.Queue[int] = asyncio.Queue()
        self.mp3_pending: set[int] = set()  # recordings whose MP3 is queued or being made

    # --- lifetime --------------------------------------------------------------------------------
    async def startup(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for row in await asyncio.to_thread(store.running, self.engine):
            assert row.id is not None
            # The hub died while this recorded: its worker died with it, the files end at the crash.
            await self._finish(row.id, RecState.INTERRUPTED, "the hub restarted while recording")
        for row in await asyncio.to_thread(store.without_mp3, self.engine):
            assert row.id is not None
            self._want_mp3(row.id)  # the hub stopped before this one's MP3 was made
        self._tasks = [asyncio.create_task(self._watch_loop()), asyncio.create_task(self._cleanup_loop()),
                       asyncio.create_task(self._mp3_loop())]

    async def shutdown(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for cid in list(self.active):
            with contextlib.suppress(Exception):
                await self._stop_part(cid, RecState.FINISHED, "the hub stopped", actor="system")

    # --- start and stop --------------------------------------------------------------------------
    def free_bytes(self) -> int:
        return shutil.disk_usage(self.dir).free

    @property
    def min_free_bytes(self) -> int:
        return self.settings.recording_min_free_mb * 1024 * 1024

    def _live(self, conference_id: int) -> LiveConference:
        live = self.conferences.live.get(conference_id)
        if live is None:
            raise refusal("not_live")
        return live

    async def start(self, conference_id: int, *, actor: str, ip: str = "", auto: bool = False,
                    part: int = 1) -> dict[str, Any]:
        async with self._lock:
            return await self._start(conference_id, actor=actor, ip=ip, auto=auto, part=part)

    async def _start(self, conference_id: int, *, actor: str, ip: str, auto: bool, part: int) -> dict[str, Any]:
        live = self._live(conference_id)
        if conference_id in self.active:
            raise refusal("already")
        if await asyncio.to_thread(self.identity.is_confidential, conference_id):
            raise refusal("confidential")
        worker = live.worker
        if worker is None or not worker.running:
            raise refusal("no_media")
        self.dir.mkdir(parents=True, exist_ok=True)
        if await asyncio.to_thread(self.free_bytes) < self.min_free_bytes:
            raise refusal("disk_low")
        series = (await asyncio.to_thread(store.series_of, self.engine, live.occurrence_id)
                  if live.occurrence_id is not None else None)
        title = series.title if series is not None else live.conf.title
        now = self.clock()
        stem = file_stem(title, now, self.settings.timezone, part)
        base, n = stem, 1
        while await asyncio.to_thread(store.stem_taken, self.engine, stem) or (self.dir / f"{stem}.mp4").exists():
            n += 1
            stem = f"{base}-{n}"
        row = await asyncio.to_thread(store.insert, self.engine, store.Recording(
            conference_id=conference_id, occurrence_id=live.occurrence_id,
            series_id=series.id if series is not None else None, title=title[:200], stem=stem, part=part,
            auto=auto, started_by=actor[:100], started_at=now))
        assert row.id is not None
        try:
            info = await worker.request(channel.StartRecording(
                recording_id=row.id, mp4=str(self.dir / f"{stem}.mp4"),
                min_free_bytes=self.min_free_bytes), timeout=10)
        except MediaWorkerError as exc:
            await asyncio.to_thread(store.update, self.engine, row.id, state=RecState.FAILED.value,
                                    reason=str(exc)[:300], ended_at=self.clock())
            await audit.arecord(self.engine, actor=actor, action="recording.start", target=target(row.id),
                                ok=False, ip=ip, detail={"conference_id": conference_id, "error": str(exc)[:300]})
            raise refusal("worker") from exc
        self.active[conference_id] = Active(row.id, conference_id, worker, worker.pid, part, stem)
        await audit.arecord(self.engine, actor=actor, action="recording.start", target=target(row.id), ip=ip,
                            detail={"conference_id": conference_id, "stem": stem, "auto": auto, "part": part,
                                    "active": info.active})
        self.conferences.events.publish("recording", {"conference_id": conference_id, "id": row.id,
                                                      "state": RecState.RECORDING.value})
        return self.view(row)

    async def stop(self, conference_id: int, *, actor: str, ip: str = "") -> dict[str, Any]:
        async with self._lock:
            if conference_id not in self.active:
                raise refusal("not_recording")
            self._resume.pop(conference_id, None)
            return await self._stop_part(conference_id, RecState.FINISHED, "stopped", actor=actor, ip=ip)

    async def _stop_part(self, conference_id: int, state: RecState, reason: str, *, actor: str,
                         ip: str = "") -> dict[str, Any]:
        act = self.active.pop(conference_id)
        if act.worker.running and act.worker.pid == act.pid:
            with contextlib.suppress(MediaWorkerError):
                await act.worker.request(channel.StopRecording(recording_id=act.recording_id), timeout=40)
        row = await self._finish(act.recording_id, state, reason, actor=actor, ip=ip)
        return row

    async def _finish(self, recording_id: int, state: RecState, reason: str, *, actor: str = "system",
                      ip: str = "") -> dict[str, Any]:
        """Duration and SHA-256 of the files as they are now; the row's final state; one audit event.

        The MP3 is queued to be made from the MP4 (a file already there — a recording from before
        the MP3 moved here — is measured as it is).
        """
        row = await asyncio.to_thread(store.get, self.engine, recording_id)
        assert row is not None
        mp4, mp3 = self.path(row.stem, "mp4"), self.path(row.stem, "mp3")

        def measure() -> dict[str, Any]:
            mp4_sha, mp4_bytes = sha256_of(mp4)
            mp3_sha, mp3_bytes = sha256_of(mp3)
            return {"mp4_sha256": mp4_sha, "mp4_bytes": mp4_bytes, "mp3_sha256": mp3_sha, "mp3_bytes": mp3_bytes,
                    "duration_s": media_duration(mp4)}

        figures = await asyncio.to_thread(measure)
        if state is RecState.FINISHED and not figures["mp4_bytes"]:
            state, reason = RecState.FAILED, reason or "no picture was recorded"
        done = await asyncio.to_thread(store.update, self.engine, recording_id, state=state.value,
                                       reason=reason[:300], ended_at=self.clock(), **figures)
        assert done is not None
        if figures["mp4_bytes"] and not figures["mp3_bytes"] and state is not RecState.DISCARDED:
            self._want_mp3(recording_id)
        await audit.arecord(self.engine, actor=actor, action="recording.stop", target=target(recording_id), ip=ip,
                            ok=state in (RecState.FINISHED, RecState.DISCARDED),
                            detail={"conference_id": row.conference_id, "state": state.value, "reason": reason[:300],
                                    "duration_s": figures["duration_s"], "mp4_sha256": figures["mp4_sha256"],
                                    "mp3_sha256": figures["mp3_sha256"]})
        self.conferences.events.publish("recording", {"conference_id": row.conference_id, "id": recording_id,
                                                      "state": state.value})
        return self.view(done)

    # --- the MP3 of each finished MP4 ----------------------------------------------------------------
    def _want_mp3(self, recording_id: int) -> None:
        if recording_id not in self.mp3_pending:
            self.mp3_pending.add(recording_id)
            self._mp3_queue.put_nowait(recording_id)

    async def _mp3_loop(self) -> None:
        while True:
            recording_id = await self._mp3_queue.get()
            try:
                await self._make_mp3(recording_id)
            except Exception:
                log.exception("recording %s: the MP3 was not made", recording_id)
            finally:
                self.mp3_pending.discard(recording_id)

    async def _make_mp3(self, recording_id: int) -> None:
        row = await asyncio.to_thread(store.get, self.engine, recording_id)
        if row is None or row.deleted_at is not None:
            return
        mp4, mp3 = self.path(row.stem, "mp4"), self.path(row.stem, "mp3")
        if not mp4.is_file() or mp3.is_file():
            return
        # FFmpeg turns this AAC into MP3 at 50–100× real time here; the limit leaves room for a busy machine.
        why = await make_mp3(mp4, mp3, 120 + (row.duration_s or 0) / 5)
        now = await asyncio.to_thread(store.get, self.engine, recording_id)
        if now is None or now.deleted_at is not None:  # deleted meanwhile: keep nothing of it
            mp3.unlink(missing_ok=True)
            return
        sha, size = await asyncio.to_thread(sha256_of, mp3)  # ("", 0): make_mp3 left no file
        if sha:
            await asyncio.to_thread(store.update, self.engine, recording_id, mp3_sha256=sha, mp3_bytes=size)
            self.mp3_pending.discard(recording_id)  # with the row, not after the audit below
        else:
            log.warning("recording %s: no MP3: %s", recording_id, why)
        await audit.arecord(self.engine, actor="system", action="recording.mp3", target=target(recording_id),
                            ok=not why, detail={"mp3_sha256": sha, "mp3_bytes": size, "error": why})
        self.conferences.events.publish("recording", {"conference_id": row.conference_id, "id": recording_id,
                                                      "state": now.state, "mp3": bool(sha)})

    # --- the watch loop ------------------------------------------------------------------------------
    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.recording_check_s)
            try:
                async with self._lock:
                    await self.check()
            except Exception:
                log.exception("recording check failed")

    async def check(self) -> None:
        """One pass: finish what stopped, resume after a worker restart, start what the series asks for."""
        for cid, act in list(self.active.items()):
            live = self.conferences.live.get(cid)
            if live is None:
                # The briefing ended: the manager stops the worker, which closes the files first.
                proc = act.worker.proc
                if proc is not None and proc.returncode is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(proc.wait(), 20)
                self.active.pop(cid, None)
                await self._finish(act.recording_id, RecState.FINISHED, "the briefing ended")
                continue
            if live.worker is not act.worker or not act.worker.running or act.worker.pid != act.pid:
                self.active.pop(cid, None)
                await self._finish(act.recording_id, RecState.INTERRUPTED, "the media worker stopped")
                self._resume[cid] = act.part + 1
                continue
            if await asyncio.to_thread(self.identity.is_confidential, cid):
                await self._discard(cid)
                continue
            try:
                info = await act.worker.request(channel.RecordingStatus(), timeout=5)
            except MediaWorkerError:
                continue  # the next pass sees whether the worker is gone
            if not info.active:
                disk = info.reason == "disk_full"
                self.active.pop(cid, None)
                with contextlib.suppress(MediaWorkerError):
                    await act.worker.request(channel.StopRecording(recording_id=act.recording_id), timeout=20)
                await self._finish(act.recording_id, RecState.DISK_FULL if disk else RecState.FAILED,
                                   "free disk space below the threshold" if disk else (info.error or info.reason))
                if disk:
                    await self._disk_alarm(act.recording_id)
        for cid, live in list(self.conferences.live.items()):
            if cid in self.active or live.worker is None or not live.worker.running:
                continue
            if cid in self._resume:
                part = self._resume.pop(cid)
                with contextlib.suppress(Exception):
                    await self._start(cid, actor="system", ip="", auto=True, part=part)
                continue
            if cid in self._considered:
                continue
            self._considered.add(cid)
            if live.occurrence_id is None:
                continue  # an ad-hoc conference: recorded only when an operator starts it
            series = await asyncio.to_thread(store.series_of, self.engine, live.occurrence_id)
            confidential = await asyncio.to_thread(self.identity.is_confidential, cid)
            if should_record(self.settings.recording_auto, series.record if series else None, confidential):
                try:
                    await self._start(cid, actor="system", ip="", auto=True, part=1)
                except Exception as exc:
                    log.warning("conference %s: automatic recording did not start: %s", cid, exc)

    async def _discard(self, conference_id: int) -> None:
        """Marked confidential while recording: stop, and keep nothing of it (files gone before the row says so)."""
        act = self.active.pop(conference_id)
        if act.worker.running and act.worker.pid == act.pid:
            with contextlib.suppress(MediaWorkerError):
                await act.worker.request(channel.StopRecording(recording_id=act.recording_id), timeout=40)
        await asyncio.to_thread(self._remove_files, act.stem)
        await asyncio.to_thread(store.update, self.engine, act.recording_id, deleted_at=self.clock(),
                                deleted_by="system")
        await self._finish(act.recording_id, RecState.DISCARDED, "the briefing was marked confidential")

    async def _disk_alarm(self, recording_id: int) -> None:
        site = self.conferences.province()
        await audit.arecord(self.engine, actor="system", action="recording.disk_full", target=target(recording_id),
                            ok=False, detail={"free_bytes": await asyncio.to_thread(self.free_bytes),
                                              "threshold_bytes": self.min_free_bytes})
        if site is not None:
            await self.alarms.raise_alarm(site, ALARM_KIND, {"recording_id": recording_id})

    # --- files, hold, delete, clean-up ------------------------------------------------------------------
    def path(self, stem: str, kind: str) -> Path:
        """The file of one recording, always inside the recordings directory."""
        if kind not in KINDS:
            raise refusal("unknown")
        p = (self.dir / f"{stem}.{kind}").resolve()
        if p.parent != self.dir:
            raise refusal("unknown")
        return p

    def _remove_files(self, stem: str) -> None:
        for kind in KINDS:
            with contextlib.suppress(FileNotFoundError):
                self.path(stem, kind).unlink()
        with contextlib.suppress(FileNotFoundError):
            partial(self.path(stem, "mp3")).unlink()  # an MP3 being made (its FFmpeg fails or is undone)

    def file_for(self, recording_id: int, kind: str) -> tuple[Path, store.Recording]:
        row = store.get(self.engine, recording_id)
        if row is None:
            raise refusal("unknown")
        if row.deleted_at is not None:
            raise refusal("gone")
        p = self.path(row.stem, kind)
        if not p.is_file():
            raise refusal("gone")
        return p, row

    def set_hold(self, recording_id: int, on: bool, *, actor: str, ip: str = "") -> dict[str, Any]:
        row = store.get(self.engine, recording_id)
        if row is None:
            raise refusal("unknown")
        row = store.update(self.engine, recording_id, legal_hold=on, hold_by=actor[:100] if on else "",
                           hold_at=self.clock() if on else None)
        assert row is not None
        audit.record(self.engine, actor=actor, action="recording.hold", target=target(recording_id), ip=ip,
                     detail={"legal_hold": on})
        return self.view(row)

    def delete(self, recording_id: int, *, actor: str, ip: str = "", why: str = "recording.delete") -> dict[str, Any]:
        row = store.get(self.engine, recording_id)
        if row is None:
            raise refusal("unknown")
        if row.legal_hold:
            audit.record(self.engine, actor=actor, action=why, target=target(recording_id), ip=ip, ok=False,
                         detail={"refused": "legal_hold"})
            raise refusal("held")
        if row.state == RecState.RECORDING.value:
            raise refusal("running")
        if row.deleted_at is not None:
            raise refusal("gone")
        self._remove_files(row.stem)
        row = store.update(self.engine, recording_id, deleted_at=self.clock(), deleted_by=actor[:100])
        assert row is not None
        audit.record(self.engine, actor=actor, action=why, target=target(recording_id), ip=ip,
                     detail={"stem": row.stem, "mp4_sha256": row.mp4_sha256, "mp3_sha256": row.mp3_sha256})
        return self.view(row)

    def cleanup(self, now: datetime | None = None) -> list[int]:
        """Delete the recordings past the retention period; never one under legal hold."""
        now = now or self.clock()
        gone = []
        for row in store.kept(self.engine):
            if row.id is not None and expired(row.ended_at, self.settings.recording_retention_days, now,
                                              legal_hold=row.legal_hold):
                self.delete(row.id, actor="system", why="recording.expire")
                gone.append(row.id)
        return gone

    async def _cleanup_loop(self) -> None:
        while True:
            try:
                removed = await asyncio.to_thread(self.cleanup)
                if removed:
                    log.info("clean-up deleted recordings %s", removed)
            except Exception:
                log.exception("recording clean-up failed")
            await asyncio.sleep(self.settings.recording_cleanup_interval_s)

    # --- views -----------------------------------------------------------------------------------------
    def view(self, row: store.Recording) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "id": row.id, "conference_id": row.conference_id, "occurrence_id": row.occurrence_id,
            "series_id": row.series_id, "title": row.title, "stem": row.stem, "part": row.part,
            "state": row.state, "reason": row.reason, "auto": row.auto, "started_by": row.started_by,
            "started_at": iso(row.started_at), "ended_at": iso(row.ended_at), "duration_s": row.duration_s,
            "files": {k: {"name": f"{row.stem}.{k}", "sha256": getattr(row, f"{k}_sha256"),
                          "bytes": getattr(row, f"{k}_bytes"),
                          "url": f"/api/v1/recordings/{row.id}/{k}"} for k in KINDS},
            "mp3_pending": row.id in self.mp3_pending,
            "legal_hold": row.legal_hold, "hold_by": row.hold_by, "hold_at": iso(row.hold_at),
            "deleted": row.deleted_at is not None, "deleted_at": iso(row.deleted_at),
        }

    def listing(self, conference_id: int | None = None) -> list[dict[str, Any]]:
        return [self.view(r) for r in store.listing(self.engine, conference_id)]

    def one(self, recording_id: int) -> dict[str, Any]:
        row = store.get(self.engine, recording_id)
        if row is None:
            raise refusal("unknown")
        return self.view(row)

    def series_record(self, series_id: int) -> dict[str, Any]:
        row = store.series(self.engine, series_id)
        if row is None:
            raise refusal("no_series")
        return {"series_id": series_id, "record": row.record}

    def set_series_record(self, series_id: int, on: bool, *, actor: str, ip: str = "") -> dict[str, Any]:
        row = store.set_series_record(self.engine, series_id, on)
        if row is None:
            raise refusal("no_series")
        audit.record(self.engine, actor=actor, action="briefing.series_record", target=f"series:{series_id}",
                     ip=ip, detail={"record": on})
        return {"series_id": series_id, "record": row.record}
