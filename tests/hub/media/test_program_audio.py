"""Program audio at real receivers: mix-minus for speakers, one common mix for the rest."""

from __future__ import annotations

import numpy as np
import pytest

from hub.conferences.conference import Conference
from hub.conferences.floor import Actor
from hub.media.mixer import CHUNK, AudioMixer
from tests.hub.media.mediakit import TONES, Rig, tone_db, wait_for

# Levels relative to the loudest tone of the clip: heard tones are within a few
# dB of each other; what Opus leaves of absent ones (intermodulation) is 50+ dB down.
PRESENT_DB = -12.0
ABSENT_DB = -35.0


def _sine(hz: float, n: int = CHUNK, amp: float = 8000.0) -> np.ndarray:
    return (np.sin(2 * np.pi * hz * np.arange(n) / 48_000) * amp).astype(np.float32)


def test_mixer_maths_mix_minus_and_levels() -> None:
    mixer = AudioMixer()
    for site in ("P", "A", "B", "C"):
        mixer.add_site(site)
        mixer.push(site, _sine(TONES["UDN00"] if site == "P" else 1000.0))
    mixer.audible = {"P", "A"}
    common, minus, levels = mixer.mix()
    assert set(minus) == {"P", "A"}
    np.testing.assert_allclose(minus["P"], _sine(1000.0), atol=1e-3)  # P hears A only
    np.testing.assert_allclose(common, _sine(TONES["UDN00"]) + _sine(1000.0), atol=1e-3)
    assert levels["C"] > -30  # muted sites still have a level (active-speaker display)
    assert mixer.loudest(levels) in {"P", "A"}
    # a site that delivered nothing gives silence, not stale audio
    common, _, levels = mixer.mix()
    assert float(np.abs(common).max()) == 0.0 and levels["P"] == -90.0


@pytest.mark.slow
async def test_fft_mix_minus_over_real_peers(rig: Rig) -> None:
    sites = ["UDN00", "UDN01", "UDN02", "UDN03", "UDN04"]
    conf = Conference(id=3, title="เสียง", province="UDN00", participants=list(sites))
    conf.give_floor("UDN01", Actor.of_chair("op"))  # holder: unmuted
    conf.unmute("UDN02", "op")  # the chair opens one more mic
    # UDN03 and UDN04 stay muted
    assert conf.audible() == {"UDN00", "UDN01", "UDN02"}
    await rig.scene(conf)
    for code in sites:
        await rig.join(code)
    assert await wait_for(lambda: all(s.endpoint.audio_frames > 50 for s in rig.sites.values()), 8)

    async def heard(code: str) -> dict[str, float]:
        clip = await rig.sites[code].audio_clip(1.2)
        assert clip.size > 40_000, f"{code} received too little audio"
        raw = {s: tone_db(clip[-48_000:], TONES[s]) for s in sites}
        top = max(raw.values())
        rel = {s: round(v - top, 1) for s, v in raw.items()}
        return rel

    # UDN02 (unmuted): province + holder present, its own tone absent, muted absent
    got = await heard("UDN02")
    assert got["UDN00"] > PRESENT_DB and got["UDN01"] > PRESENT_DB, got
    assert got["UDN02"] < ABSENT_DB, f"UDN02 hears itself: {got}"
    assert got["UDN03"] < ABSENT_DB and got["UDN04"] < ABSENT_DB, got
    # the holder does not hear itself either
    got = await heard("UDN01")
    assert got["UDN00"] > PRESENT_DB and got["UDN02"] > PRESENT_DB and got["UDN01"] < ABSENT_DB, got
    # a muted district hears the common mix: every audible site, not the muted ones
    got = await heard("UDN03")
    assert min(got["UDN00"], got["UDN01"], got["UDN02"]) > PRESENT_DB, got
    assert got["UDN03"] < ABSENT_DB and got["UDN04"] < ABSENT_DB, got

    # lecture mode: only the province and the holder are heard
    conf.set_lecture(True, "op")
    await rig.scene(conf)
    got = await heard("UDN04")
    assert got["UDN00"] > PRESENT_DB and got["UDN01"] > PRESENT_DB, got
    assert got["UDN02"] < ABSENT_DB, got

    levels = [e for e in rig.events if e.get("event") == "levels" and e["levels"]]
    assert levels and levels[-1]["loudest"] in {"UDN00", "UDN01"}
    assert all(levels[-1]["levels"][s] > -40 for s in sites)  # every mic measured
