"""The endpoint's screen stream: in every offer, empty until shared, kept across a rejoin (real aiortc)."""

from __future__ import annotations

from site_agent.media.endpoint import MediaEndpoint, Profile, SyntheticCamera


async def test_the_screen_stream_is_offered_empty_and_survives_a_fresh_offer() -> None:
    endpoint = MediaEndpoint("อำเภอทดสอบ", colour=(10, 20, 30))
    try:
        offer = await endpoint.offer(Profile(), conference_id=1)
        assert offer["sdp"].count("m=video") == 2 and "a=sendonly" in offer["sdp"]
        sender = endpoint._screen_sender
        assert sender is not None and sender.track is None  # nothing is sent until the clerk shares

        screen = SyntheticCamera("หน้าจอ", Profile(640, 360, 8), colour=(255, 120, 0))
        endpoint.share_screen(screen)
        assert sender.track is screen and endpoint.screen is screen

        await endpoint.offer(Profile(), conference_id=1)  # the hub asked for a fresh connection
        assert endpoint._screen_sender is not None and endpoint._screen_sender is not sender
        assert endpoint._screen_sender.track is screen and screen.readyState == "live"

        endpoint.stop_screen()
        assert endpoint._screen_sender.track is None and screen.readyState == "ended"
    finally:
        await endpoint.close()
