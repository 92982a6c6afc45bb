"""A site's program sender: aiortc's RTP send loop, per frame where upstream works per packet.

Upstream: aiortc 1.16 ``RTCRtpSender._run_rtp``
(https://github.com/aiortc/aiortc/blob/main/src/aiortc/rtcrtpsender.py). For every packet it
builds and serialises an ``RtpPacket``, reads the NTP clock twice through ``datetime``
arithmetic (1.8 µs a read), and awaits four coroutines down to the socket (the DTLS
transport's ``_send_rtp``, aioice's ``Connection.send`` and ``sendto``, its protocol's
``send_data``). The media worker sends the same program to every district: about 3,000
packets a second at 20 districts, the largest share of its event loop after receiving
(py-spy, BENCHMARKS.md issue 17).

:func:`install` gives one sender a loop that does, per frame, one clock read and one
serialisation by aiortc (the frame's first packet), whose header the frame's other packets
reuse with their own sequence number and marker bit; each packet is then SRTP-protected and
handed to the socket directly, as ``send_data`` itself does. Kept exactly as upstream: the
payloads (shared, :class:`hub.media.encoder.PackedFrame`), the random sequence and timestamp
origins, the NACK history (an ``RtpPacket`` per packet, which aiortc's own ``_retransmit``
sends again, RTX-wrapped), the counters the RTCP sender reports and ``getStats`` read, the
DTLS transport's byte and packet counts, and the ending (the track stopped, ``stop()``
released). A pair whose protocol is not aioice's plain UDP one (a TURN relay) goes through
upstream's awaited path. Not kept: upstream's per-packet debug log line.

:func:`install` returns False, and leaves the sender as it is, when aiortc lacks an attribute
this relies on (``tests/hub/media/test_rtp_send.py`` then fails, by name).
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Protocol

from aioice.ice import StunProtocol
from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, HeaderExtensions, RtpPacket
from aiortc.utils import random32, uint16_add, uint32_add

log = logging.getLogger(__name__)


class FrameSource(Protocol):
    """What the loop reads: hub.media.encoder.PacketTrack (which installs it; no import back)."""

    async def recv(self) -> Any: ...  # a PackedFrame: .payloads, .timestamp


_S = "_RTCRtpSender__"  # aiortc 1.16's name-mangled private attributes
_SENDER = ("rtp_started", "rtp_exited", "rtp_history", "mid", "rtp_header_extensions_map",
           "ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count", "track", "encoder")
_DTLS = ("_RTCDtlsTransport__tx_bytes", "_RTCDtlsTransport__tx_packets", "_tx_srtp", "_state")

NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)


def ntp_now() -> int:
    """The 64-bit NTP time, as ``aiortc.clock.current_ntp_time`` gives it, without datetime."""
    return int((time.time() + NTP_EPOCH_OFFSET) * 4_294_967_296)


def missing(sender: RTCRtpSender) -> list[str]:
    """What this aiortc lacks of what the loop uses (empty: it can be installed)."""
    out = [_S + n for n in _SENDER if not hasattr(sender, _S + n)]
    if not hasattr(RTCRtpSender, "_run_rtp"):
        out.append("RTCRtpSender._run_rtp")
    return out


def install(sender: RTCRtpSender, track: FrameSource) -> bool:
    """Have ``sender`` send ``track``'s shared frames by :func:`run` (call before it starts)."""
    if missing(sender):
        return False

    async def run_rtp(codec: Any) -> None:
        await run(sender, track, codec)

    sender._run_rtp = run_rtp  # type: ignore[method-assign]  # an instance attribute: this sender only
    return True


def _direct(dtls: Any) -> tuple[Any, Any] | None:
    """The socket and address of the DTLS transport's nominated pair, when it is plain UDP."""
    connection = getattr(dtls.transport, "_connection", None)
    pair = getattr(connection, "_nominated", {}).get(1)
    if pair is None or type(pair.protocol) is not StunProtocol:
        return None
    return pair.protocol.transport, pair.remote_addr


async def run(sender: RTCRtpSender, track: FrameSource, codec: Any) -> None:
    s: Any = sender
    getattr(s, _S + "rtp_started").set()
    history: dict[int, RtpPacket] = getattr(s, _S + "rtp_history")
    extensions_map = getattr(s, _S + "rtp_header_extensions_map")
    mid = getattr(s, _S + "mid")
    dtls: Any = s.transport
    checked = all(hasattr(dtls, name) for name in _DTLS)
    payload_type = codec.payloadType
    sequence_number = random_sequence_number()
    timestamp_origin = random32()
    try:
        while True:
            frame = await track.recv()
            if not s._enabled or getattr(s, _S + "track") is not track:
                continue  # as upstream: a disabled sender still drains its track
            timestamp = uint32_add(timestamp_origin, frame.timestamp)
            ntp = ntp_now()
            extensions = HeaderExtensions()
            extensions.abs_send_time = (ntp >> 14) & 0x00FFFFFF
            extensions.mid = mid
            payloads = frame.payloads
            last = len(payloads) - 1
            header: bytearray | None = None
            octets = 0
            route = _direct(dtls) if checked else None
            for i, payload in enumerate(payloads):
                marker = 1 if i == last else 0
                packet = RtpPacket(payload_type=payload_type, marker=marker, sequence_number=sequence_number,
                                   timestamp=timestamp, ssrc=s._ssrc, payload=payload)
                packet.extensions = extensions  # the frame's packets share theirs, as read for a NACK
                history[sequence_number % RTP_HISTORY_SIZE] = packet
                if header is None:
                    data = packet.serialize(extensions_map)
                    header = bytearray(data[: len(data) - len(payload)])
                else:
                    header[1] = (marker << 7) | payload_type
                    header[2] = sequence_number >> 8
                    header[3] = sequence_number & 0xFF
                    data = bytes(header) + payload
                if route is None:
                    await dtls._send_rtp(data)  # upstream's path (a relay, or an aiortc it was not written for)
                else:
                    if dtls._state != State.CONNECTED:
                        raise ConnectionError("Cannot send encrypted RTP, not connected")
                    protected = dtls._tx_srtp.protect(data)
                    route[0].sendto(protected, route[1])
                    dtls._RTCDtlsTransport__tx_bytes += len(protected)
                    dtls._RTCDtlsTransport__tx_packets += 1
                octets += len(payload)
                sequence_number = uint16_add(sequence_number, 1)
            # what the next RTCP sender report says (upstream sets them after each packet)
            setattr(s, _S + "ntp_timestamp", ntp_now())
            setattr(s, _S + "rtp_timestamp", timestamp)
            setattr(s, _S + "octet_count", getattr(s, _S + "octet_count") + octets)
            setattr(s, _S + "packet_count", getattr(s, _S + "packet_count") + len(payloads))
    except (ConnectionError, MediaStreamError):
        pass
    except Exception:
        # as upstream: stop() waits for rtp_exited, so the loop must reach it
        log.warning("RTCRtpSender(%s) %s", s.kind, traceback.format_exc())
    finally:
        own = getattr(s, _S + "track")
        if own:
            own.stop()
            setattr(s, _S + "track", None)
        setattr(s, _S + "encoder", None)
        getattr(s, _S + "rtp_exited").set()


__all__ = ["install", "missing", "ntp_now", "run"]
