"""GuestMedia on the conference manager's media worker: a browser is one more peer of the MCU.

It lives in the guests room rather than in hub.conferences: the guests room decides who may
be in from a browser, and this adapter only turns its :class:`GuestPeer` into the manager's
``browser_join``/``browser_leave``/floor/mute calls. So the import goes guests → conferences
and the conferences room knows nothing of links, passcodes or the lobby.

A guest is the participant ``guest-<id>`` of kind "guest" (in the layout only while it holds
the floor); a district's browser keeps the district's code, so the board, the floor queue and
attendance see the district (marked "browser").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hub.attendance.model import Closed
from hub.conferences.conference import ConferenceError
from hub.conferences.floor import FloorError
from hub.conferences.manager import STATE_ERRORS, ConferenceManager
from hub.conferences.signalling import floor_view
from hub.conferences.store import UnknownConference
from hub.events import EventBus, Subscription
from hub.guests.media import GuestPeer, MediaAnswer, MediaUnavailable
from hub.guests.model import LinkKind, web_guest_key
from hub.guests.sdp import ValidatedOffer
from hub.media.client import MediaWorkerError

log = logging.getLogger("hub.guests.bridge")

REASONS = {"left": Closed.LEFT, "removed": Closed.REMOVED, "closed": Closed.ENDED}
NOT_STARTED = ("การประชุมยังไม่เริ่ม โปรดรอสักครู่แล้วหน้านี้จะเชื่อมต่อเอง",
               "The briefing has not started yet; this page connects by itself once it does")


@dataclass
class _Peer:
    conference_id: int
    key: str  # the participant: the district's code, or guest-<id>
    kind: LinkKind


def participant_key(peer: GuestPeer) -> str:
    return peer.site_code if peer.kind is LinkKind.DISTRICT else f"guest-{peer.guest_id}"


class ConferenceGuestMedia:
    def __init__(self, manager: ConferenceManager, events: EventBus, on_change: Callable[[int], None],
                 on_end: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.manager = manager
        self.events = events
        self.on_change = on_change  # the guest's page is told its view moved (the long poll wakes)
        self.on_end = on_end  # the briefing ended under a connected guest: its interval closes
        self.peers: dict[int, _Peer] = {}
        self._views: dict[int, dict[str, Any] | None] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    # --- lifetime ----------------------------------------------------------------------------
    def start(self) -> None:
        self._sub = self.events.subscribe()
        self._task = asyncio.create_task(self._follow(self._sub))

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, sub: Subscription) -> None:
        """Every conference change may move a guest's floor, microphone or send profile."""
        while True:
            frame = await sub.queue.get()
            # conference and conference.media (in the program or not); not the levels, 4 a second
            if not frame.startswith('{"kind": "conference') or frame.startswith('{"kind": "conference.levels"'):
                continue
            for guest_id in list(self.peers):
                view = self.view(guest_id)
                if view != self._views.get(guest_id):
                    self._views[guest_id] = view
                    self.on_change(guest_id)
                    if view is not None and view.get("ended") and self.on_end is not None:
                        try:
                            await self.on_end(guest_id)
                        except Exception:
                            log.exception("guest %s: the end of the briefing was not recorded", guest_id)

    # --- GuestMedia ----------------------------------------------------------------------------
    def _conference(self, peer: GuestPeer) -> int:
        live = self.manager.live
        if peer.conference_id is not None and peer.conference_id in live:
            return peer.conference_id
        for conf in live.values():
            if conf.occurrence_id == peer.occurrence_id:
                return conf.conf.id
        raise MediaUnavailable(*NOT_STARTED)

    async def connect(self, peer: GuestPeer, offer: ValidatedOffer) -> MediaAnswer:
        cid = self._conference(peer)
        if not self.manager.settings.media_enabled:
            # A hub run with media off answers at once (the manager would wait a minute for a worker).
            raise MediaUnavailable("ระบบภาพและเสียงของศูนย์ปิดอยู่", "Media is switched off on this hub")
        key = participant_key(peer)
        kind = "guest" if peer.kind is LinkKind.GUEST else "browser"
        try:
            answer, profile = await self.manager.browser_join(
                cid, key, kind=kind, name=peer.display_name, organisation=peer.organisation,
                sdp=offer.sdp, actor=f"guest:{peer.guest_id}", source_addr=peer.source_addr, client=peer.client,
                log_as=web_guest_key(peer.guest_id) if peer.kind is LinkKind.GUEST else "")
        except (ConferenceError, MediaWorkerError, TimeoutError) as exc:
            log.info("guest %s: not connected: %s", peer.guest_id, exc)
            raise MediaUnavailable("ยังเชื่อมต่อภาพและเสียงไม่ได้ โปรดลองอีกครั้ง",
                                   f"The program could not be connected: {exc}") from exc
        self.peers[peer.guest_id] = _Peer(cid, key, peer.kind)
        await self.update(peer)
        self._views[peer.guest_id] = self.view(peer.guest_id)
        return MediaAnswer(sdp=answer.sdp, send_profile=profile.to_dict())

    async def update(self, peer: GuestPeer) -> None:
        """The raised hand is a floor request of the participant; a microphone the chair no
        longer allows is closed (unless the floor holds it open)."""
        p = self.peers.get(peer.guest_id)
        if p is None or p.conference_id not in self.manager.live:
            return
        conf = self.manager.live[p.conference_id].conf
        req = conf.floor.live_request_of(p.key)
        with contextlib.suppress(*STATE_ERRORS):
            if peer.hand_raised and req is None:
                await self.manager.request_floor(p.conference_id, p.key)
            elif not peer.hand_raised and req is not None:
                await self.manager.release_floor(p.conference_id, p.key)
            if not peer.may_unmute and conf.mics.get(p.key) and p.key not in conf.holders():
                await self.manager.mute(p.conference_id, p.key, True, "system")

    async def microphone(self, guest_id: int, open_: bool) -> None:
        p = self.peers.get(guest_id)
        if p is None:
            return
        with contextlib.suppress(ConferenceError, FloorError, UnknownConference):
            await self.manager.mute(p.conference_id, p.key, not open_, f"guest:{guest_id}")

    async def disconnect(self, guest_id: int, reason: str) -> None:
        p = self.peers.pop(guest_id, None)
        self._views.pop(guest_id, None)
        if p is None:
            return
        await self.manager.browser_leave(p.conference_id, p.key, REASONS.get(reason, Closed.LEFT),
                                         f"guest:{guest_id}")

    def view(self, guest_id: int) -> dict[str, Any] | None:
        p = self.peers.get(guest_id)
        if p is None:
            return None
        live = self.manager.live.get(p.conference_id)
        if live is None or live.conf.status == "ended":
            # The briefing is over: the page says so instead of trying to reconnect.
            return {"conference_id": p.conference_id, "participant": p.key, "ended": True}
        if p.key not in live.conf.participants:
            return None
        conf = live.conf
        floor = floor_view(conf, p.key)
        profile = conf.profiles().get(p.key)
        return {
            "conference_id": conf.id, "participant": p.key,
            "floor": floor.status, "position": floor.position, "holder": p.key in conf.holders(),
            "mic_open": conf.mics.get(p.key, False), "heard": p.key in conf.audible(),
            "in_program": p.key in live.in_program, "layout": conf.layout,
            "send_profile": profile.to_dict() if profile is not None else None,
        }

    def browser_districts(self) -> dict[int, set[str]]:
        """Conference → the districts in it from a browser (the board marks them)."""
        out: dict[int, set[str]] = {}
        for p in self.peers.values():
            if p.kind is LinkKind.DISTRICT:
                out.setdefault(p.conference_id, set()).add(p.key)
        return out
