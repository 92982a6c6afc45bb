"""A district not heard is read for its level (RFC 6464 header) and counted, not decoded (hub.media.audio_gate)."""

from __future__ import annotations

import asyncio

import aiortc.rtp
import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from hub.conferences.conference import Conference
from hub.conferences.floor import Actor
from hub.media import audio_gate, channel
from hub.media.arrivals import ArrivalLedger
from site_agent.rtc import level
from site_agent.rtc.healing import AUDIO_CLOCK, HealingJitterBuffer
from tests.hub.media.mediakit import TONES, Rig, tone_db, wait_for

_EXT = HeaderExtensionsMap()
_EXT.configure(type("P", (), {"headerExtensions": [
    RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")]})())


def _packet(seq: int, level: int | None) -> RtpPacket:
    """An Opus packet as it comes off the wire: serialised with the header, parsed back."""
    p = RtpPacket(payload_type=111, sequence_number=seq % 0x10000, timestamp=seq * 960)
    p.payload = b"\xfc" + bytes(40)
    if level is not None:
        p.extensions.audio_level = (False, level)
    parsed = RtpPacket.parse(p.serialize(_EXT), _EXT)
    parsed._data = parsed.payload  # type: ignore[attr-defined]  # as aiortc's depayload leaves it
    return parsed


def test_the_ledger_counts_what_came_and_what_never_did() -> None:
    ledger = ArrivalLedger(window=5)
    for seq in (65533, 65534, 65535, 0, 1):  # across the 16-bit wrap
        ledger.add(seq)
    assert (ledger.arrived, ledger.missing) == (5, 0)
    ledger.add(3)  # 2 is late
    ledger.add(2)  # ... and comes (a retransmission): not missing
    ledger.add(2)  # a duplicate counts once
    assert (ledger.arrived, ledger.missing) == (7, 0)
    ledger.add(5)  # 4 is a hole
    for seq in range(6, 11):
        ledger.add(seq)  # the stream moves 5 past it: given up
    assert ledger.missing == 1 and ledger.arrived == 13
    ledger.add(4)  # too late to count: it was counted missing already
    assert (ledger.arrived, ledger.missing) == (13, 1)
    ledger.add(40_000)  # a sender's restart, not 29,000 lost packets
    assert ledger.missing == 1 and ledger.arrived == 14


def test_the_gate_takes_packets_off_the_decode_path_and_gives_them_back() -> None:
    heard = False
    levels: list[float] = []
    changes: list[bool] = []
    buffer = HealingJitterBuffer(16, prefetch=0, is_video=False, max_wait_s=0.1, clock_rate=AUDIO_CLOCK)
    gate = audio_gate.LevelGate(lambda: heard, levels.append, lambda: changes.append(gate.gated))
    audio_gate.install(buffer, gate)
    frames = []
    for seq in range(10):
        frames.append(buffer.add(_packet(seq, level=23))[1])
    assert frames == [None] * 10 and levels == [-23.0] * 10  # read for the level, nothing buffered
    assert gate.ledger.arrived == 10 and changes == [True]
    heard = True  # the chair gives it the floor
    out = [buffer.add(_packet(seq, level=20))[1] for seq in range(500, 504)]
    # a fresh ring at the first packet heard: each packet after it completes the one before
    assert out[0] is None and all(f is not None for f in out[1:]) and changes == [True, False]
    # a sender that fills no level header is decoded whether heard or not: its level is known so
    heard = False
    assert buffer.add(_packet(504, level=None))[1] is not None and not gate.gated
    with pytest.raises(ValueError):
        audio_gate.install(HealingJitterBuffer(16), gate)


@pytest.mark.slow
async def test_a_district_not_heard_is_not_decoded_and_is_heard_at_once_when_given_the_floor(rig: Rig) -> None:
    sites = ["UDN00", "UDN01", "UDN02", "UDN03"]
    conf = Conference(id=4, title="เสียง", province="UDN00", participants=list(sites))
    conf.give_floor("UDN01", Actor.of_chair("op"))
    assert conf.audible() == {"UDN00", "UDN01"}  # UDN02 and UDN03 muted
    await rig.scene(conf)
    for code in sites:
        await rig.join(code)
    assert await wait_for(lambda: all(s.endpoint.audio_frames > 50 for s in rig.sites.values()), 8)
    assert aiortc.rtp.compute_audio_level_dbov is level.dbov  # the endpoints' senders: numpy

    async def figures(seconds: float) -> dict[str, dict[str, int]]:
        before = (await rig.worker.request(channel.GetStats())).sites
        await asyncio.sleep(seconds)
        after = (await rig.worker.request(channel.GetStats())).sites
        return {s: {"decoded": after[s].decoded.get("audio", 0) - before[s].decoded.get("audio", 0),
                    "in": after[s].audio_in - before[s].audio_in,
                    "missing": after[s].audio_missing} for s in sites}

    got = await figures(2.0)
    for code in ("UDN00", "UDN01"):  # heard: decoded, 50 chunks a second
        assert got[code]["decoded"] >= 80 and got[code]["in"] >= 80, got
    for code in ("UDN02", "UDN03"):  # not heard: not decoded, still counted as arriving
        assert got[code]["decoded"] == 0 and got[code]["in"] >= 80 and got[code]["missing"] == 0, got
    # the live board still shows every mic, the muted ones from their packets' headers
    await asyncio.sleep(0.5)
    levels = [e for e in rig.events if e.get("event") == "levels"][-1]["levels"]
    assert all(levels[s] > -40 for s in sites), levels
    assert abs(levels["UDN02"] - levels["UDN00"]) < 4, levels  # the same tone level, read two ways

    conf.give_floor("UDN02", Actor.of_chair("op"))  # the floor moves to a muted district
    await rig.scene(conf)
    clip = await rig.sites["UDN03"].audio_clip(1.0)
    assert tone_db(clip, TONES["UDN02"]) > tone_db(clip, TONES["UDN03"]) + 30  # UDN02 heard within the second
    got = await figures(1.0)
    assert got["UDN02"]["decoded"] >= 40 and got["UDN02"]["missing"] == 0, got
    assert got["UDN01"]["decoded"] == 0, got  # the old holder is muted now: back to its level only
