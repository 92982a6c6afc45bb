"""A conference end to end: real hub, real agents over the control WebSocket, real media.

The API starts it, agents join through join/offer/media_answer commands, the
floor moves over the real protocol (FloorRequest from the agent, the chair's
verbs over HTTP), and the decoded program follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from hub import audit
from hub.conferences.layout import CANVAS_H, CANVAS_W
from hub.settings import Settings
from site_agent import protocol as p
from site_agent.client import AgentClient
from site_agent.media.endpoint import MediaEndpoint, ToneSource, install
from tests.hub.media.mediakit import COLOURS, TONES, close_to, colour_at, wait_for

SITES = ["UDN01", "UDN02", "UDN03"]
W, H = 320, 180


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                    media_width=W, media_height=H, media_fps=15, media_kbps=600)


def floor_of(agent: Agent) -> p.FloorView:
    """The floor state the hub last told this agent (its ConferenceState)."""
    state = agent.endpoint.conference_state
    return state.floor if state is not None else p.FloorView()


class Agent:
    def __init__(self, client: AgentClient, endpoint: MediaEndpoint) -> None:
        self.client = client
        self.endpoint = endpoint
        self.last: np.ndarray | None = None

    def on_video(self, frame: av.VideoFrame) -> None:
        self.last = frame.to_ndarray(format="rgb24")


@contextlib.asynccontextmanager
async def agents(hub: Any, run_agent: Callable[..., Any], codes: list[str],
                 silent: tuple[str, ...] = ()) -> AsyncIterator[dict[str, Agent]]:
    out: dict[str, Agent] = {}
    async with contextlib.AsyncExitStack() as stack:
        for code in codes:
            config = await hub.enrol_agent(code)
            client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
            holder: list[Agent] = []
            mic = ToneSource(TONES[code], amplitude=0.0) if code in silent else None
            endpoint = install(client, colour=COLOURS[code], tone_hz=TONES[code], microphone=mic,
                               on_video=lambda f, h=holder: h[0].on_video(f))
            agent = Agent(client, endpoint)
            holder.append(agent)
            task = asyncio.create_task(client.run())

            async def stop(client: AgentClient = client, task: asyncio.Task[None] = task,
                           endpoint: MediaEndpoint = endpoint) -> None:
                await endpoint.close()
                client.stop()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 5)

            stack.push_async_callback(stop)
            await client.wait_connected(timeout=10)
            out[code] = agent
        yield out


def large_tile_colour(img: np.ndarray) -> tuple[int, int, int]:
    # the 1+N large tile spans (0,0)-(960,540) of 1280×720
    return colour_at(img, 480 * W // CANVAS_W, 270 * H // CANVAS_H)


async def api(http: aiohttp.ClientSession, hub: Any, method: str, path: str, body: Any = None,
              role: str = "operator", expect: int = 200) -> Any:
    async with http.request(method, hub.url + path, json=body, headers=hub.auth(role)) as resp:
        data = await resp.json()
        assert resp.status == expect, (resp.status, data)
        return data


@pytest.mark.slow
async def test_conference_floor_and_agenda_over_the_real_protocol(
    hub: Any, run_agent: Any, http: aiohttp.ClientSession
) -> None:
    async with agents(hub, run_agent, SITES) as ag:
        conf = await api(http, hub, "POST", "/api/v1/conferences",
                         {"sites": SITES, "layout": "1+N", "title": "ทดสอบ"}, expect=201)
        cid = conf["id"]
        assert conf["sites"] == SITES  # the province has no agent here: districts only

        async def state() -> Any:
            return await api(http, hub, "GET", f"/api/v1/conferences/{cid}", role="viewer")

        async def all_joined() -> bool:
            s = await state()
            return all(p["joined_at"] and p["in_program"] for p in s["participants"])

        for _ in range(100):
            if await all_joined():
                break
            await asyncio.sleep(0.1)
        assert await all_joined(), await state()
        a1 = ag["UDN01"]
        assert await wait_for(lambda: a1.last is not None and close_to(large_tile_colour(a1.last),
                                                                        COLOURS["UDN01"]), 5)

        # UDN02 raises its hand over the control WebSocket
        await ag["UDN02"].client.send(p.FloorRequest(action="request", priority=3))
        for _ in range(50):
            s = await state()
            if s["floor"]["requests"]:
                break
            await asyncio.sleep(0.05)
        req = s["floor"]["requests"][0]
        assert (req["site"], req["status"], req["position"]) == ("UDN02", "pending", None)
        # a viewer cannot act as chair
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor/{req['id']}/grant", role="viewer",
                  expect=403)
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor/{req['id']}/accept")
        assert s["floor"]["requests"][0]["status"] == "accepted" and s["floor"]["requests"][0]["position"] == 1
        assert await wait_for(lambda: floor_of(ag["UDN02"]) == p.FloorView(status="queued", position=1,
                                                                           request_id=req["id"]), 5)
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor/{req['id']}/grant")
        assert s["floor"]["holder"] == "UDN02"
        udn02 = next(p for p in s["participants"] if p["site"] == "UDN02")
        assert udn02["mic_open"] and udn02["heard"] and udn02["tile"] == "large"
        # 1+N's large tile is 960×540: the holder is asked for exactly that (hub.conferences.layout)
        assert udn02["send_profile"] == {"width": 960, "height": 540, "fps": 25, "kbps": 1000}
        # the program follows: UDN02 is now in the large tile at every site
        def shows_udn02(agent: Agent) -> bool:
            return agent.last is not None and close_to(large_tile_colour(agent.last), COLOURS["UDN02"])

        for code in SITES:
            assert await wait_for(functools.partial(shows_udn02, ag[code]), 5), code
        # the agent was told its new send profile
        assert await wait_for(lambda: (ag["UDN02"].endpoint.profile.width, ag["UDN02"].endpoint.profile.height)
                              == (960, 540), 5)

        # illegal: granting an already granted request, a district releasing a floor it does not hold
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor/{req['id']}/grant", expect=409)
        await ag["UDN03"].client.send(p.FloorRequest(action="release"))
        assert await wait_for(lambda: "no floor request" in floor_of(ag["UDN03"]).detail, 5)
        assert (await state())["floor"]["holder"] == "UDN02"

        await ag["UDN02"].client.send(p.FloorRequest(action="release"))
        for _ in range(50):
            s = await state()
            if s["floor"]["holder"] is None:
                break
            await asyncio.sleep(0.05)
        assert s["floor"]["holder"] is None
        assert not next(p for p in s["participants"] if p["site"] == "UDN02")["mic_open"]

        # every transition is in the audit log, with who did it
        # (the in-memory state changes first; its audit rows land with the state write)
        seen: list[tuple[str, str, bool]] = []
        for _ in range(50):
            events = await asyncio.to_thread(audit.recent, hub.engine, action_prefix="conference.floor", limit=50)
            seen = [(e.action, e.actor, e.ok) for e in reversed(events)]
            if ("conference.floor.released", "agent:UDN02", True) in seen:
                break
            await asyncio.sleep(0.05)
        assert ("conference.floor.pending", "agent:UDN02", True) in seen
        assert ("conference.floor.accepted", "operator:operator", True) in seen
        assert ("conference.floor.granted", "operator:operator", True) in seen
        assert ("conference.floor.released", "agent:UDN02", True) in seen
        assert ("conference.floor.release", "agent:UDN03", False) in seen

        # layout, mutes, lecture via the API
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/layout", {"layout": "2x2"})
        assert s["layout"] == "2x2"
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/layout", {"layout": "9x9"}, expect=409)
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/unmute-all")
        assert all(p["mic_open"] for p in s["participants"])
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/mute-all")
        assert not any(p["mic_open"] for p in s["participants"] if p["site"] != s["province"])

        # agenda: UDN03 then UDN01, the hub moves floor + mic + large tile
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/layout", {"layout": "1+N"})
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/agenda",
                  {"items": [{"site": "UDN03", "seconds": 30}, {"site": "UDN01", "seconds": 30}]})
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/agenda/start")
        assert s["floor"]["holder"] == "UDN03" and s["agenda"]["current"] == "UDN03"
        assert 25 < s["agenda"]["remaining_s"] <= 30
        assert await wait_for(lambda: a1.last is not None and close_to(large_tile_colour(a1.last),
                                                                        COLOURS["UDN03"]), 5)
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/agenda/extend", {"seconds": 60})
        assert s["agenda"]["remaining_s"] > 80
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/agenda/next")
        assert s["floor"]["holder"] == "UDN01"

        # bad input to the API: clear errors, the conference goes on
        await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["NOPE1"], "layout": "2x2"}, expect=400)
        await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["UDN01"]}, expect=409)  # busy
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/viewer", {"sdp": "nonsense"}, role="viewer",
                  expect=400)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor/999/grant", expect=409)
        await api(http, hub, "POST", "/api/v1/conferences/424242/end", expect=404)
        frames = a1.endpoint.video_frames
        assert await wait_for(lambda: a1.endpoint.video_frames > frames + 10, 3)

        # the control room's preview: a receive-only peer gets the same program
        viewer = RTCPeerConnection()
        viewer.addTransceiver("video", direction="recvonly")
        viewer.addTransceiver("audio", direction="recvonly")
        previews: list[np.ndarray] = []

        async def watch(track: Any) -> None:
            with contextlib.suppress(Exception):
                while True:
                    frame = await track.recv()
                    if track.kind == "video":
                        previews.append(frame.to_ndarray(format="rgb24"))

        viewer.on("track", lambda track: asyncio.ensure_future(watch(track)))
        await viewer.setLocalDescription(await viewer.createOffer())
        answer = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/viewer",
                           {"sdp": viewer.localDescription.sdp, "type": "offer"}, role="viewer")
        await viewer.setRemoteDescription(RTCSessionDescription(**answer))
        assert await wait_for(lambda: bool(previews) and close_to(large_tile_colour(previews[-1]), COLOURS["UDN01"]), 5)
        await viewer.close()

        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/end")
        assert s["status"] == "ended"
        listing = await api(http, hub, "GET", "/api/v1/conferences", role="viewer")
        assert listing[0]["id"] == cid and listing[0]["status"] == "ended"
        assert await wait_for(lambda: ag["UDN01"].endpoint.pc is None, 5)  # told to leave


async def test_prepared_worker_is_adopted_and_start_does_not_wait_for_media(
    hub: Any, http: aiohttp.ClientSession
) -> None:
    from hub.conferences.keys import CONFERENCES

    mgr = hub.app[CONFERENCES]
    await mgr.prepare()
    spare = mgr._spare
    assert spare is not None and spare.running
    conf = await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["UDN05"], "layout": "speaker"},
                     expect=201)
    live = mgr.get(conf["id"])
    await asyncio.wait_for(live.media_ready.wait(), 10)
    assert live.worker is spare and mgr._spare is None
    ended = await api(http, hub, "POST", f"/api/v1/conferences/{conf['id']}/end")
    assert ended["status"] == "ended"
    assert await wait_for(lambda: not spare.running, 10)


@pytest.mark.slow
async def test_media_worker_crash_is_survived(hub: Any, run_agent: Any, http: aiohttp.ClientSession) -> None:
    import os
    import signal

    async with agents(hub, run_agent, ["UDN01"]) as ag:
        conf = await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["UDN01"], "layout": "speaker"},
                         expect=201)
        cid = conf["id"]
        a1 = ag["UDN01"]

        def shows_udn01() -> bool:
            return a1.last is not None and close_to(colour_at(a1.last, W // 2, H // 2), COLOURS["UDN01"])

        assert await wait_for(shows_udn01, 10)
        pid = (await api(http, hub, "GET", f"/api/v1/conferences/{cid}", role="viewer"))["media"]["pid"]
        os.kill(pid, signal.SIGKILL)  # a crash in media…
        # …does not take the control room down: the API answers at once
        s = await api(http, hub, "GET", f"/api/v1/conferences/{cid}", role="viewer")
        assert s["status"] == "live"
        a1.last = None
        new_pid = None
        for _ in range(100):
            new_pid = (await api(http, hub, "GET", f"/api/v1/conferences/{cid}", role="viewer"))["media"]["pid"]
            if new_pid not in (None, pid):
                break
            await asyncio.sleep(0.1)
        assert new_pid not in (None, pid), "the media worker was not restarted"
        assert await wait_for(shows_udn01, 15), "the district did not get the program back"
        restarts = await asyncio.to_thread(audit.recent, hub.engine, action_prefix="conference.media_restart")
        assert restarts and not restarts[0].ok


@pytest.mark.slow
async def test_voice_switching_puts_the_speaker_in_the_large_tile(
    hub: Any, run_agent: Any, http: aiohttp.ClientSession
) -> None:
    async with agents(hub, run_agent, ["UDN01", "UDN02"], silent=("UDN01",)) as ag:
        conf = await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["UDN01", "UDN02"], "layout": "speaker"},
                         expect=201)
        cid = conf["id"]
        a1 = ag["UDN01"]

        def large(site: str) -> bool:
            return a1.last is not None and close_to(colour_at(a1.last, W // 2, H // 2), COLOURS[site])

        assert await wait_for(lambda: large("UDN01"), 10)  # nobody speaks: the first site
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/unmute-all")
        s = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/voice-switching", {"on": True})
        assert s["voice_switching"]
        # UDN02's mic carries sound, UDN01's is silent: the picture follows the voice
        assert await wait_for(lambda: large("UDN02"), 10), "voice switching did not move the picture"
        s = await api(http, hub, "GET", f"/api/v1/conferences/{cid}", role="viewer")
        assert s["active_speaker"] == "UDN02"
        levels = {p["site"]: p["level_dbfs"] for p in s["participants"]}
        assert levels["UDN02"] > -40 > levels["UDN01"]
        # the floor wins over the voice; the chair's click answers at once even while the
        # worker's level reports drive scene changes (they once blocked the worker's reader)
        clicked = time.monotonic()
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor", {"site": "UDN01"})
        assert time.monotonic() - clicked < 2.0
        assert await wait_for(lambda: large("UDN01"), 10)
