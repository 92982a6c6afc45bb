"""Content into the program: the stage's changes become the layout and the media worker's content tile.

The content service tells its subscribers after every change
(:class:`~hub.content.service.ContentChange`). :class:`ProgramBridge` turns
each one, in order, into

- the layout: "presentation" when content comes up, the layout from before
  when it ends (through :meth:`ConferenceManager.set_layout`, so it is
  audited, persisted and sent to the districts' send profiles like any
  layout change);
- a :class:`hub.media.channel.ContentShow` to the conference's media worker:
  the page's PNG and the stage version (the worker reads and scales it), or
  the clip and its play head; a keyframe with every new picture.

A media worker that starts or restarts gets the current content at once
(``ConferenceManager.media_listeners``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.briefings import store as briefings
from hub.conferences.conference import ConferenceError
from hub.conferences.layout import LayoutError
from hub.conferences.manager import ConferenceManager
from hub.conferences.store import UnknownConference
from hub.content.model import Change
from hub.content.service import ContentChange, ContentFrame, ContentService
from hub.media import channel
from hub.media.client import MediaWorkerError

log = logging.getLogger("hub.content.program")

PRESENTATION = "presentation"
DEFAULT_LAYOUT = "1+N"  # when content came up without a layout to return to
ACTOR = "system:content"


def content_op(conference_id: int, version: int, frame: ContentFrame | None, keyframe: bool) -> channel.ContentShow:
    """The worker's op for what the stage shows now (None: nothing)."""
    if frame is None:
        return channel.ContentShow(conference_id=conference_id, version=version)
    clip = None
    if frame.clip is not None:
        c = frame.clip
        clip = channel.ContentClip(path=str(c.path), duration_s=c.duration_s, position_s=c.position_s,
                                   at=c.at, playing=c.playing)
    return channel.ContentShow(conference_id=conference_id, version=version,
                               image=str(frame.image) if frame.image is not None else None,
                               clip=clip, keyframe=keyframe, screen=frame.screen)


def series_of(conferences: ConferenceManager, conference_id: int) -> int | None:
    """The briefing series a live conference belongs to (its library), None for an ad-hoc one.

    Reads the database: call it in a thread.
    """
    live = conferences.live.get(conference_id)
    if live is None or live.occurrence_id is None:
        return None
    found = briefings.get(conferences.engine, live.occurrence_id)
    return found[1].id if found is not None else None


class ProgramBridge:
    def __init__(self, content: ContentService) -> None:
        self.content = content
        self._conferences: ConferenceManager | None = None
        self._queue: asyncio.Queue[ContentChange] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = lambda: None
        self.sent = 0  # ops the workers accepted (tests and the bench read it)

    @property
    def conferences(self) -> ConferenceManager:
        if self._conferences is None:
            raise RuntimeError("the program bridge has not started")
        return self._conferences

    def current_layout(self, conference_id: int) -> str | None:
        if self._conferences is None:
            return None
        live = self._conferences.live.get(conference_id)
        return live.conf.layout if live is not None else None

    def start(self, conferences: ConferenceManager) -> None:
        """At the hub's start, once the conference manager exists (it is built in its own lifetime)."""
        self._conferences = conferences
        self._unsubscribe = self.content.subscribe(self._queue.put_nowait)
        self.conferences.media_listeners.append(self._worker_started)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._unsubscribe()
        if self._conferences is not None:
            with contextlib.suppress(ValueError):
                self._conferences.media_listeners.remove(self._worker_started)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            change = await self._queue.get()
            try:
                await self._apply(change)
            except Exception:  # one failed change must not stop the next ones
                log.exception("content change %s of conference %s not applied", change.change, change.conference_id)

    async def _apply(self, change: ContentChange) -> None:
        cid = change.conference_id
        if change.change is Change.NONE or self._conferences is None or cid not in self.conferences.live:
            return
        if change.change is Change.END:
            await self._send(cid, change.version, None, keyframe=True)
            if self.current_layout(cid) == PRESENTATION:
                await self._layout(cid, change.layout or DEFAULT_LAYOUT)
            return
        if change.change is Change.SHOW and self.current_layout(cid) != PRESENTATION:
            # the tile first, then the layout: the content tile never shows its slate
            await self._send(cid, change.version, change.frame, change.keyframe)
            await self._layout(cid, PRESENTATION)
            return
        # the frame of the change, not the stage now: a later change has its own op behind this one
        await self._send(cid, change.version, change.frame, change.keyframe)

    async def _layout(self, conference_id: int, layout: str) -> None:
        try:
            await self.conferences.set_layout(conference_id, layout, ACTOR)
        except (ConferenceError, LayoutError, UnknownConference) as exc:
            log.warning("conference %s: layout %s not set for content: %s", conference_id, layout, exc)

    async def _send(self, conference_id: int, version: int, frame: ContentFrame | None, keyframe: bool) -> None:
        live = self.conferences.live.get(conference_id)
        if live is None or live.worker is None or not live.worker.running:
            return  # a worker that starts later is sent the stage by _worker_started
        try:
            await live.worker.request(content_op(conference_id, version, frame, keyframe))
            self.sent += 1
        except MediaWorkerError as exc:
            log.warning("conference %s: content not sent to the media worker: %s", conference_id, exc)

    async def _worker_started(self, conference_id: int) -> None:
        frame = self.content.current_frame(conference_id)
        if frame is not None:
            await self._send(conference_id, frame.version, frame, keyframe=True)
