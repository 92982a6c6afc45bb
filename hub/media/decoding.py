"""Shared decoder lanes: a few threads decode every district's streams in the media worker.

Upstream: aiortc 1.16 gives every ``RTCRtpReceiver`` a decoder thread of its own
(``decoder_worker`` in https://github.com/aiortc/aiortc/blob/main/src/aiortc/rtcrtpreceiver.py)
and hands each decoded frame back with ``asyncio.run_coroutine_threadsafe(queue.put(frame))``:
a coroutine, a task and an event-loop wake-up per frame. At 20 districts that is 40 threads
taking the GIL about 1,300 times a second beside the event loop and the render thread; with
three lanes instead, glass-to-glass p95 fell from 1.5 s to 0.6 s (BENCHMARKS.md, issue 17).

Here a receiver's decoder queue (the object ``_handle_rtp_packet`` puts ``(codec, frame)``
into, and the audio healing's drain too, site_agent.rtc.healing) is replaced by an
:class:`Inbox`. A small picture and sound are decoded right there, on the event loop
(:data:`INLINE_PIXELS`); a larger picture goes to a :class:`DecoderLane` — one thread serving
many receivers, each with its own decoder, so each stream stays in order — which hands the
frames of one decode back with one ``call_soon_threadsafe``. Decoded frames go to the MCU's
handler (``Inbox.on_frame``) or, without one, to the receiver's track. aiortc's own thread
still exists, blocked in ``Inbox.get`` until the receiver stops; then it ends the track
exactly as upstream does.
:meth:`DecoderLanes.attach` refuses (RuntimeError) an aiortc whose receiver lacks these attributes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCRtpReceiver
from aiortc.codecs import get_decoder
from aiortc.codecs.opus import OpusDecoder

log = logging.getLogger(__name__)

# aiortc 1.16's private attributes of RTCRtpReceiver (name-mangled) and its track's queue.
_QUEUE = "_RTCRtpReceiver__decoder_queue"
_ERROR = "_RTCRtpReceiver__decoder_error"
_STARTED = "_RTCRtpReceiver__started"


class MonoOpusDecoder(OpusDecoder):
    """aiortc's ``OpusDecoder``, asking libopus for mono.

    The mixer wants one channel; decoded as stereo, each 20 ms cost 53 µs plus 10 µs to average
    the channels again (1,000 packets a second at 20 districts). Asked for mono, libopus
    downmixes a stereo stream itself: 40 µs, plus 8 to read the frame. Otherwise upstream's
    decoder as it is (s16 at 48 kHz, the RTP timestamp as pts); PyAV opens the codec at the
    first packet, so the layout set here is the one it opens with.
    """

    def __init__(self) -> None:
        super().__init__()
        self.codec.layout = "mono"


def one_thread(decoder: Any) -> Any:
    """A video decoder on its caller's thread alone (aiortc's H264Decoder lets FFmpeg pick).

    FFmpeg's default gives each H.264 decoder a pool of slice threads, woken for every
    frame: 20 districts' decoders meant 40 more threads, and a 320×180 frame cost 140 µs of
    CPU against 45 µs on one thread (720p: 530 against 416 µs; BENCHMARKS.md, issue 17).
    A lane already decodes many streams side by side; one picture needs no more than that.
    """
    context = getattr(decoder, "codec", None)
    if isinstance(context, av.CodecContext):
        context.thread_count = 1  # before the first packet opens it
    return decoder


# A picture this small (a tile's thumbnail: districts send what their tile needs) is decoded on
# the event loop where its packet arrived: on one thread its 45 µs cost less than handing it to
# a lane and back (a queue, two thread wake-ups, a callback, a task: BENCHMARKS.md, issue 17).
# Larger pictures (the floor holder's 720p, a shared screen) go to a lane. Sound is decoded where
# it arrives too: only the few districts heard are decoded at all (hub.media.audio_gate).
INLINE_PIXELS = 640 * 360


class Inbox:
    """Stands in for one receiver's decoder queue."""

    def __init__(self, lane: DecoderLane | None, out: asyncio.Queue[Any], decode_error: threading.Event,
                 kind: str) -> None:
        self.lane = lane
        self.kind = kind
        self._out = out
        self._decode_error = decode_error
        self._decoder: Any = None
        self._codec_name: str | None = None
        self._stopped = threading.Event()
        self.decoded = 0  # frames this receiver's stream decoded to
        # Set by the MCU: decoded frames go straight to it on the event loop (no track queue, no
        # task woken per frame); unset, they go to the remote track's queue as upstream.
        self.on_frame: Callable[[Any], None] | None = None
        self._inline = True  # decoding on the event loop (sound; pictures up to INLINE_PIXELS)
        self._pending = 0  # decodes handed to the lane, not yet back (event loop only): the decoder is the lane's

    # aiortc's side (event loop): what queue.Queue offered it
    def put(self, task: tuple[Any, Any] | None) -> None:
        if task is None:  # the receiver stops: let aiortc's own thread end the track
            self._stopped.set()
            return
        if self._stopped.is_set():
            return
        if self.lane is None or (self._inline and self._pending == 0):
            frames = self.decode(*task)
            self._route(frames)
            self.deliver(frames)
        else:
            self._pending += 1
            self.lane.submit(self, task)

    def get(self) -> None:
        """aiortc's decoder thread waits here for the whole call, then ends the track."""
        self._stopped.wait()

    # on the event loop, or on the lane's thread (never both at once: see _pending)
    def decode(self, codec: Any, encoded: Any) -> list[Any]:
        if codec.name != self._codec_name:
            self._decoder = MonoOpusDecoder() if codec.name.lower() == "opus" else one_thread(get_decoder(codec))
            self._codec_name = codec.name
        try:
            frames = list(self._decoder.decode(encoded))
        except av.FFmpegError as exc:
            # As upstream: keep the decoder's state and have the receiver send a PLI.
            log.warning("%s decoder failed on a frame: %s", self.kind, exc)
            self._decode_error.set()
            return []
        self.decoded += len(frames)
        return frames

    def _route(self, frames: list[Any]) -> None:
        if self.kind == "video" and frames:
            last = frames[-1]
            self._inline = last.width * last.height <= INLINE_PIXELS

    # back on the event loop
    def lane_done(self, frames: list[Any]) -> None:
        self._pending -= 1
        self._route(frames)
        self.deliver(frames)

    def deliver(self, frames: list[Any]) -> None:
        if self._stopped.is_set():
            return  # the track is ending: aiortc's thread sends its end-of-stream
        on_frame = self.on_frame
        for frame in frames:
            if on_frame is not None:
                on_frame(frame)
            else:
                self._out.put_nowait(frame)


class DecoderLane:
    """One thread decoding, in arrival order, for every receiver attached to it."""

    def __init__(self, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self._loop = loop
        self._queue: queue.SimpleQueue[tuple[Inbox, tuple[Any, Any]] | None] = queue.SimpleQueue()
        self.inboxes = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, inbox: Inbox, task: tuple[Any, Any]) -> None:
        self._queue.put((inbox, task))

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            inbox, (codec, encoded) = item
            frames = inbox.decode(codec, encoded)
            try:
                # even with no frame: the inbox counts what is still with its lane
                self._loop.call_soon_threadsafe(inbox.lane_done, frames)
            except RuntimeError:
                return  # the event loop has closed


class DecoderLanes:
    """The worker's lanes: ``video`` threads for the districts' larger pictures.

    Sound has none: it is decoded where it arrives (see :data:`INLINE_PIXELS`).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, video: int = 2) -> None:
        self.lanes = {"video": [DecoderLane(f"decode-video-{i}", loop) for i in range(video)]}

    def attach(self, receiver: RTCRtpReceiver) -> Inbox:
        """Decode ``receiver``'s stream on a lane (call from the ``track`` event, before it starts)."""
        for attr in (_QUEUE, _ERROR, _STARTED):  # checked, so an aiortc upgrade fails loudly
            if not hasattr(receiver, attr):
                raise RuntimeError(f"aiortc's RTCRtpReceiver has no {attr}: hub/media/decoding.py "
                                   "was written for aiortc 1.16")
        if getattr(receiver, _STARTED):
            raise RuntimeError("attach before the receiver starts: its own decoder thread has the old queue")
        track = receiver.track
        kind = track.kind
        # the least loaded lane of the kind, by receivers attached (streams are long-lived)
        out = getattr(track, "_queue", None)  # aiortc's RemoteStreamTrack's frame queue
        if not isinstance(out, asyncio.Queue):
            raise RuntimeError("aiortc's remote track has no frame queue: hub/media/decoding.py "
                               "was written for aiortc 1.16")
        lanes = self.lanes.get(kind)
        lane = min(lanes, key=lambda ln: ln.inboxes) if lanes else None
        if lane is not None:
            lane.inboxes += 1
        inbox = Inbox(lane, out, getattr(receiver, _ERROR), kind)
        setattr(receiver, _QUEUE, inbox)
        return inbox

    def detach(self, inboxes: list[Inbox]) -> None:
        """A peer is gone: its streams no longer count against their lanes."""
        for inbox in inboxes:
            if inbox.lane is not None:
                inbox.lane.inboxes -= 1
        inboxes.clear()

    def close(self) -> None:
        for lanes in self.lanes.values():
            for lane in lanes:
                lane.close()


__all__ = ["DecoderLane", "DecoderLanes", "Inbox", "MonoOpusDecoder", "one_thread"]
