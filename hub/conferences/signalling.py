"""Signalling with the agents, over their control WebSocket (typed commands, site_agent.protocol).

The hub sends ``JoinConference`` (conference, send profile); the agent answers
with its SDP offer; the media worker answers that; the hub sends
``MediaAnswer``. Send profiles follow the tiles (``SendProfile``); each site's
floor and microphone state goes to it as ``ConferenceState`` — on every floor
change, and as the answer to each of its floor requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from hub.conferences.conference import Conference, ConferenceError
from hub.conferences.floor import RequestStatus
from hub.conferences.layout import SendProfile
from hub.control.registry import AgentOffline, AgentRegistry, CommandRefused
from hub.media import channel
from hub.media.client import MediaWorker
from site_agent import protocol as p

# BFCP RequestStatus → what the district's raise-hand item shows.
FLOOR_STATUS: dict[RequestStatus, p.FloorStatus] = {
    RequestStatus.PENDING: "queued",
    RequestStatus.ACCEPTED: "queued",
    RequestStatus.GRANTED: "granted",
    RequestStatus.DENIED: "denied",
    RequestStatus.CANCELLED: "released",
    RequestStatus.RELEASED: "released",
    RequestStatus.REVOKED: "released",
}

NO_BRIEFING = p.ConferenceState(conference_id=None, floor=p.FloorView(status="no_briefing"))


def profile_wire(profile: SendProfile) -> p.MediaProfile:
    return p.MediaProfile(width=profile.width, height=profile.height, fps=profile.fps, kbps=profile.kbps)


def floor_view(conf: Conference, site: str, detail: str = "") -> p.FloorView:
    """The site's own floor request (its latest, so a denial still shows) as the tray shows it."""
    req = conf.floor.live_request_of(site) or conf.floor.last_request_of(site)
    if req is None:
        return p.FloorView(status="none", detail=detail)
    status = FLOOR_STATUS[req.status]
    position = conf.floor.waiting_position(req.id) if status == "queued" else None
    return p.FloorView(status=status, position=position, request_id=req.id, detail=detail)


def conference_state(conf: Conference, site: str, detail: str = "") -> p.ConferenceState:
    return p.ConferenceState(
        conference_id=conf.id, holder=conf.holder(), mic_open=conf.mics.get(site, False),
        heard=site in conf.audible(), floor=floor_view(conf, site, detail),
    )


def scene(conf: Conference, names: dict[str, str]) -> channel.Scene:
    """What the media worker draws and mixes (validated before it leaves the control process)."""
    return channel.Scene.model_validate(conf.render_state(names))


async def send_quiet(registry: AgentRegistry, code: str, command: p.HubCommand[Any], timeout: float = 10) -> None:
    """A push whose failure changes nothing here (the agent is gone, or will be told again)."""
    with contextlib.suppress(AgentOffline, TimeoutError, ConnectionError, RuntimeError, CommandRefused):
        await registry.send_command(code, command, timeout=timeout)


async def negotiate(
    registry: AgentRegistry,
    code: str,
    conf: Conference,
    name_th: str,
    profile: SendProfile,
    worker: Callable[[], Awaitable[MediaWorker]],
    join_timeout: float,
) -> None:
    """join → the agent's offer → the worker's answer → media_answer.

    ``worker`` waits for the conference's media worker (the agents build their offers
    while it starts). Raises AgentOffline, TimeoutError, CommandRefused,
    ConferenceError or MediaWorkerError with a reason the control room shows.
    """
    join = p.JoinConference(conference_id=conf.id, title=conf.title, name_th=name_th,
                            send_profile=profile_wire(profile))
    try:
        offer = await registry.send_command(code, join, timeout=join_timeout)
    except CommandRefused as exc:
        raise ConferenceError(f"the agent refused to join: {exc.detail}") from exc
    media = await asyncio.wait_for(worker(), 60)
    answer = await media.request(channel.Offer(site=code, sdp=offer.sdp, sdp_type=offer.sdp_type))
    try:
        await registry.send_command(code, p.MediaAnswer(conference_id=conf.id, sdp=answer.sdp), timeout=10)
    except CommandRefused as exc:
        raise ConferenceError(f"the agent could not use the hub's answer: {exc.detail}") from exc
