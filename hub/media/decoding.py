"""Shared decoder lanes: a few threads decode every district's streams in the media worker.

Upstream: aiortc 1.16 gives every ``RTCRtpReceiver`` a decoder thread of its own
(``decoder_worker`` in https://github.com/aiortc/aiortc/blob/main/src/aiortc/rtcrtpreceiver.py)
and hands each decoded frame back with ``asyncio.run_coroutine_threadsafe(queue.put(frame))``:
a coroutine, a task and an event-loop wake-up per frame. At 20 districts that is 40 threads
taking the GIL about 1,300 times a second beside the event loop and the render thread; with
three lanes instead, glass-to-glass p95 fell from 1.5 s to 0.6 s (BENCHMARKS.md, issue 17).

Here a receiver's decoder queue (the object ``_handle_rtp_packet`` puts ``(codec, frame)``
into, and the audio healing's drain too, site_agent.rtc.healing) is replaced by an
:class:`Inbox` that passes the frame to a :class:`DecoderLane` — one thread serving many
receivers, each with its own decoder, so each stream stays in order — and the lane
delivers decoded frames to the receiver's track with ``call_soon_threadsafe``, all the
frames of one decode in one call. aiortc's own thread still exists, blocked in
``Inbox.get`` until the receiver stops; then it ends the track exactly as upstream does.
:meth:`DecoderLanes.attach` refuses (RuntimeError) an aiortc whose receiver lacks these attributes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
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


class Inbox:
    """Stands in for one receiver's decoder queue."""

    def __init__(self, lane: DecoderLane, out: asyncio.Queue[Any], decode_error: threading.Event, kind: str) -> None:
        self.lane = lane
        self.kind = kind
        self._out = out
        self._decode_error = decode_error
        self._decoder: Any = None
        self._codec_name: str | None = None
        self._stopped = threading.Event()
        self.decoded = 0  # frames this receiver's stream decoded to (lane thread)

    # aiortc's side (event loop): what queue.Queue offered it
    def put(self, task: tuple[Any, Any] | None) -> None:
        if task is None:  # the receiver stops: let aiortc's own thread end the track
            self._stopped.set()
            return
        if not self._stopped.is_set():
            self.lane.submit(self, task)

    def get(self) -> None:
        """aiortc's decoder thread waits here for the whole call, then ends the track."""
        self._stopped.wait()

    # the lane's side (its thread)
    def decode(self, codec: Any, encoded: Any) -> list[Any]:
        if codec.name != self._codec_name:
            self._decoder = MonoOpusDecoder() if codec.name.lower() == "opus" else get_decoder(codec)
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

    # back on the event loop
    def deliver(self, frames: list[Any]) -> None:
        if self._stopped.is_set():
            return  # the track is ending: aiortc's thread sends its end-of-stream
        for frame in frames:
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
            if frames:
                try:
                    self._loop.call_soon_threadsafe(inbox.deliver, frames)
                except RuntimeError:
                    return  # the event loop has closed


class DecoderLanes:
    """The worker's lanes: ``video`` threads for the districts' pictures, one for their sound."""

    def __init__(self, loop: asyncio.AbstractEventLoop, video: int = 2, audio: int = 1) -> None:
        self.lanes = {
            "video": [DecoderLane(f"decode-video-{i}", loop) for i in range(video)],
            "audio": [DecoderLane(f"decode-audio-{i}", loop) for i in range(audio)],
        }

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
        lane = min(self.lanes[kind], key=lambda ln: ln.inboxes)
        lane.inboxes += 1
        inbox = Inbox(lane, out, getattr(receiver, _ERROR), kind)
        setattr(receiver, _QUEUE, inbox)
        return inbox

    def detach(self, inboxes: list[Inbox]) -> None:
        """A peer is gone: its streams no longer count against their lanes."""
        for inbox in inboxes:
            inbox.lane.inboxes -= 1
        inboxes.clear()

    def close(self) -> None:
        for lanes in self.lanes.values():
            for lane in lanes:
                lane.close()


__all__ = ["DecoderLane", "DecoderLanes", "Inbox"]
