"""Routes of the guests room: the join page, the guest's own API, the chair's API.

Pages: ``GET /briefings/{id}?k=…`` (the guest link) and ``GET /briefings/{id}/district/{code}?k=…``
(a district's link). The browser is known by a seat secret in its encrypted session cookie;
the passcode, once accepted, is remembered there for this briefing. Every refusal is a
:class:`hub.guests.model.Refusal`, answered as JSON with Thai and English text (API) or as
a page saying the same (pages).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from pydantic import BaseModel, ConfigDict, Field

from hub import audit
from hub.briefings.model import valid_email
from hub.guests import model as m
from hub.guests import present
from hub.guests.keys import GUESTS
from hub.guests.service import GuestService, date_label, guest_json, new_seat, opens_label
from hub.mail.keys import OUTBOX
from hub.models import utcnow
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.openapi import api as describe
from hub.web.openapi import respond_as

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _seat_key(occurrence_id: int) -> str:
    return f"guest_seat:{occurrence_id}"


def _pass_key(occurrence_id: int) -> str:
    return f"guest_pass:{occurrence_id}"


def refusal_response(r: m.Refusal) -> web.Response:
    headers = {"Retry-After": str(r.retry_after_s)} if r.retry_after_s else None
    return web.json_response(r.to_json(), status=r.status, headers=headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def api(handler: Handler) -> Handler:
    """A refusal from the room becomes its JSON answer; nothing a guest sends makes a 5xx."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except m.Refusal as r:
            return refusal_response(r)

    return wrapped


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except (KeyError, ValueError) as exc:
        raise m.Refusal("bad_id", "รหัสไม่ถูกต้อง", f"{name} must be a number", 400, name) from exc


# --- request bodies -------------------------------------------------------------------------


class JoinBody(BaseModel):
    k: str = Field(min_length=1, max_length=64)
    district: str = Field("", max_length=32)
    passcode: str = Field("", max_length=64)
    name: str = Field("", max_length=400)
    organisation: str = Field("", max_length=400)


class HandBody(BaseModel):
    raised: bool


class MicBody(BaseModel):
    open: bool


class VoteBody(BaseModel):
    poll: int = Field(ge=1)
    option: int = Field(ge=0, le=100)


class OfferBody(BaseModel):
    type: Literal["offer"]
    sdp: str


class AccessBody(BaseModel):
    open: bool


class PolicyBody(BaseModel):
    admit_directly: bool


class InviteBody(BaseModel):
    emails: list[str] = Field(min_length=1, max_length=200)


# --- answers (the service's dicts, checked against these and sent with the same keys) -------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuestOut(_Out):
    """One guest or district browser (``guest_json``)."""

    id: int
    occurrence_id: int
    kind: str
    site_code: str
    name: str
    organisation: str
    status: str
    hand_raised: bool
    may_unmute: bool
    intervals: list[dict[str, Any]]
    browser: bool
    version: str


class GuestStatusOut(GuestOut):
    """What the guest's page polls: its row, its view of the conference once connected (else null)."""

    media: dict[str, Any] | None


class GuestPollOut(_Out):
    id: int
    question: str
    options: list[str]
    ballot: str
    secret: bool
    unit: str
    closes_at: str | None
    voted: bool


class GuestFullStatusOut(GuestStatusOut):
    polls: list[GuestPollOut]


class AnswerOut(_Out):
    type: Literal["answer"]
    sdp: str
    send_profile: dict[str, int]


class LobbyOut(_Out):
    occurrence_id: int
    series_id: int
    closed_to_guests: bool
    admit_directly: bool
    guests: list[GuestOut]


class PolicyOut(_Out):
    series_id: int
    admit_directly: bool


class InvitedOut(_Out):
    series_id: int
    queued: int


class PresentedOut(_Out):
    item_id: int
    conference_id: int
    name: str
    status: str


# --- pages -----------------------------------------------------------------------------------


async def _page(request: web.Request, site_code: str) -> web.Response:
    service = request.app[GUESTS]
    tz = service.settings.timezone
    token = request.query.get("k", "")
    try:
        occurrence_id = int(request.match_info["id"])
        arrival = await asyncio.to_thread(service.arrive, occurrence_id, token, site_code)
    except (ValueError, m.Refusal):
        return _render(request, "guests/refused.html", {"code": "bad_link", "refusal": m.bad_link()}, 404)
    session = await get_session(request)
    guest = await asyncio.to_thread(service.seat_guest, str(session.get(_seat_key(occurrence_id), "")))
    b = arrival.briefing
    when_th, when_en = date_label(b, tz)
    base: dict[str, Any] = {
        "briefing": b, "when_th": when_th, "when_en": when_en, "district_th": arrival.district_th,
        "site_code": site_code, "token": token, "kind": arrival.binding.kind.value,
    }
    if guest is not None and guest.status == m.GuestStatus.REMOVED.value:
        return _render(request, "guests/refused.html", {**base, "code": "removed", "refusal": m.removed()}, 403)
    state = arrival.window.state(utcnow(), over=b.over)
    if state is m.WindowState.NOT_YET:
        opens_th, opens_en = opens_label(b, service.lead, tz)
        return _render(request, "guests/not_open.html", {**base, "opens_th": opens_th, "opens_en": opens_en}, 200)
    if state is m.WindowState.CLOSED:
        return _render(request, "guests/closed.html", base, 410)
    return _render(request, "guests/join.html", {
        **base,
        "passcode_needed": not session.get(_pass_key(occurrence_id)),
        "guest": guest_json(guest) if guest is not None else None,
    }, 200)


def _render(request: web.Request, template: str, context: dict[str, Any], status: int) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    # A join page holds a live token: never cached by a shared proxy or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


async def guest_page(request: web.Request) -> web.Response:
    return await _page(request, "")


async def district_page(request: web.Request) -> web.Response:
    return await _page(request, request.match_info["code"])


# --- the guest's own API ------------------------------------------------------------------------


@describe("Join a briefing with the guest or district link (and passcode)", role=None, body=JoinBody,
          response=GuestFullStatusOut, tags=("guests",))
@api
async def post_join(request: web.Request) -> web.Response:
    service = request.app[GUESTS]
    occurrence_id = _int(request, "id")
    body: JoinBody = await read_json(request, JoinBody)
    session = await get_session(request)
    seat = str(session.get(_seat_key(occurrence_id), "")) or new_seat()
    guest, accepted_now = await service.join(
        occurrence_id=occurrence_id, token=body.k, site_code=body.district, passcode=body.passcode,
        passcode_ok=bool(session.get(_pass_key(occurrence_id))), name=body.name,
        organisation=body.organisation, seat=seat, ip=client_ip(request), now=utcnow(),
    )
    session[_seat_key(occurrence_id)] = seat
    if accepted_now:
        session[_pass_key(occurrence_id)] = True
    return respond_as(GuestFullStatusOut, await service.full_status(guest))


async def _seat(request: web.Request) -> str:
    session = await get_session(request)
    return str(session.get(_seat_key(_int(request, "id")), ""))


@describe("The guest's own status (long-polls with ?wait=&v=)", role=None, response=GuestFullStatusOut, tags=("guests",))
@api
async def get_me(request: web.Request) -> web.Response:
    service = request.app[GUESTS]
    seat = await _seat(request)
    try:
        wait = min(float(request.query.get("wait", "0")), service.settings.guests_status_wait_s)
    except ValueError as exc:
        raise m.Refusal("bad_wait", "ค่า wait ไม่ถูกต้อง", "wait must be a number of seconds", 400, "wait") from exc
    guest = await service.wait_status(seat, request.query.get("v", ""), max(0.0, wait))
    if guest is None or guest.occurrence_id != _int(request, "id"):
        raise m.Refusal("no_seat", "ยังไม่ได้เข้าร่วมการประชุม", "You have not joined this briefing", 401)
    return respond_as(GuestFullStatusOut, await service.full_status(guest))


@describe("The guest votes in an open poll", role=None, body=VoteBody, response=GuestFullStatusOut, tags=("guests",))
@api
async def post_vote(request: web.Request) -> web.Response:
    """The guest votes in one of the briefing's open polls (the polls room decides)."""
    body: VoteBody = await read_json(request, VoteBody)
    service = request.app[GUESTS]
    guest = await service.vote(await _seat(request), body.poll, body.option, client_ip(request))
    return respond_as(GuestFullStatusOut, await service.full_status(guest))


@describe("Raise or lower the guest's hand", role=None, body=HandBody, response=GuestStatusOut, tags=("guests",))
@api
async def post_hand(request: web.Request) -> web.Response:
    body: HandBody = await read_json(request, HandBody)
    service = request.app[GUESTS]
    guest = await service.own_action(await _seat(request), "hand", utcnow(), raised=body.raised)
    return respond_as(GuestStatusOut, service.status(guest))


@describe("Open or close the guest's microphone", role=None, body=MicBody, response=GuestStatusOut, tags=("guests",))
@api
async def post_mic(request: web.Request) -> web.Response:
    body: MicBody = await read_json(request, MicBody)
    service = request.app[GUESTS]
    guest = await service.own_microphone(await _seat(request), body.open)
    return respond_as(GuestStatusOut, service.status(guest))


@describe("The guest leaves", role=None, response=GuestOut, tags=("guests",))
@api
async def post_leave(request: web.Request) -> web.Response:
    guest = await request.app[GUESTS].own_action(await _seat(request), "leave", utcnow())
    return respond_as(GuestOut, guest_json(guest))


@describe("The guest browser's WebRTC offer; answers the hub's SDP and send profile", role=None,
          body=OfferBody, response=AnswerOut, tags=("guests",))
@api
async def post_offer(request: web.Request) -> web.Response:
    service = request.app[GUESTS]
    limit = service.settings.guests_sdp_max_bytes
    if request.content_length is not None and request.content_length > limit + 1024:
        # Refuse before reading a body far over the limit.
        raise m.Refusal("sdp_too_large", f"ข้อมูลการเชื่อมต่อ (SDP) ใหญ่เกิน {limit} ไบต์",
                        f"The SDP offer is over the limit of {limit} bytes", 413, "sdp")
    body: OfferBody = await read_json(request, OfferBody)
    answer = await service.offer(await _seat(request), body.sdp, client_ip(request),
                                 request.headers.get("User-Agent", "")[:250])
    # The send profile, as an agent is told it: the page caps its camera to it.
    return respond_as(AnswerOut, {"type": "answer", "sdp": answer.sdp, "send_profile": answer.send_profile})


# --- the chair -------------------------------------------------------------------------------------


@describe("The briefing's guests and lobby", role="viewer", response=LobbyOut, tags=("guests",))
@api
async def get_lobby(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    try:
        data = await asyncio.to_thread(request.app[GUESTS].lobby, _int(request, "id"))
    except m.Refusal as r:
        raise m.Refusal("not_found", "ไม่พบการประชุมนี้", "no such occurrence", 404) from r
    return respond_as(LobbyOut, data)


@describe("Admit, refuse or remove a guest", role="operator", response=GuestOut, tags=("guests",))
@api
async def post_chair(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    guest = await request.app[GUESTS].chair(
        _int(request, "id"), _int(request, "gid"), request.match_info["action"], who.actor, utcnow()
    )
    return respond_as(GuestOut, guest_json(guest))


@describe("Open or close the briefing to guests", role="operator", body=AccessBody, response=LobbyOut,
          tags=("guests",))
@api
async def put_access(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body: AccessBody = await read_json(request, AccessBody)
    try:
        data = await request.app[GUESTS].set_access(_int(request, "id"), body.open, who.actor, utcnow())
    except m.Refusal as r:
        if r.code == "bad_link":
            raise m.Refusal("not_found", "ไม่พบการประชุมนี้", "no such occurrence", 404) from r
        raise
    return respond_as(LobbyOut, data)


@describe("Whether a series admits guests directly or through the lobby", role="operator", body=PolicyBody,
          response=PolicyOut, tags=("guests",))
@api
async def put_policy(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body: PolicyBody = await read_json(request, PolicyBody)
    data = await asyncio.to_thread(request.app[GUESTS].set_policy, _int(request, "id"), body.admit_directly, who.actor)
    return respond_as(PolicyOut, data)


@describe("The series' guest and district links, per site code and occurrence start", role="operator",
          response=dict[str, dict[str, str]], tags=("guests",))
@api
async def get_links(request: web.Request) -> web.Response:
    await require_role(request, "operator")
    links = await asyncio.to_thread(request.app[GUESTS].links_for_series, _int(request, "id"))
    out = {code or "guest": {k.isoformat(): url for k, url in sorted(per.items())} for code, per in links.items()}
    return respond_as(dict[str, dict[str, str]], out)


@describe("Mail the guest link of every occurrence to extra addresses", role="operator", body=InviteBody,
          response=InvitedOut, status=202, tags=("guests",))
@api
async def post_invite(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body: InviteBody = await read_json(request, InviteBody)
    emails = list(dict.fromkeys(e.strip() for e in body.emails))
    for e in emails:
        if not valid_email(e):
            raise m.Refusal("bad_email", f"อีเมลไม่ถูกต้อง: {e}", f"malformed e-mail address: {e}", 400, "emails")
    service = request.app[GUESTS]
    series_id = _int(request, "id")
    queued = await asyncio.to_thread(service.queue_guest_invitations, series_id, emails)
    request.app[OUTBOX].wake()
    await audit.arecord(service.engine, actor=who.actor, action="guests.invite", target=f"series:{series_id}",
                        detail={"emails": emails})
    return respond_as(InvitedOut, {"series_id": series_id, "queued": queued}, status=202)


def add_routes(app: web.Application, service: GuestService) -> None:
    r = app.router
    r.add_get(r"/briefings/{id:\d+}", guest_page)
    r.add_get(r"/briefings/{id:\d+}/district/{code}", district_page)
    r.add_post(r"/api/v1/join/{id}", post_join)
    r.add_get(r"/api/v1/join/{id}/me", get_me)
    r.add_post(r"/api/v1/join/{id}/me/hand", post_hand)
    r.add_post(r"/api/v1/join/{id}/me/leave", post_leave)
    r.add_post(r"/api/v1/join/{id}/me/mic", post_mic)
    r.add_post(r"/api/v1/join/{id}/me/content", describe(
        "A guest or district browser presents a file (multipart part `file`), shown when converted", role=None,
        response=PresentedOut, status=202, tags=("guests",))(api(present.upload)))
    r.add_post(r"/api/v1/join/{id}/me/offer", post_offer)
    r.add_post(r"/api/v1/join/{id}/me/vote", post_vote)
    r.add_get(r"/api/v1/occurrences/{id}/guests", get_lobby)
    r.add_post(r"/api/v1/occurrences/{id}/guests/{gid}/{action}", post_chair)
    r.add_put(r"/api/v1/occurrences/{id}/guest-access", put_access)
    r.add_put(r"/api/v1/series/{id}/guest-policy", put_policy)
    r.add_get(r"/api/v1/series/{id}/guest-links", get_links)
    r.add_post(r"/api/v1/series/{id}/guest-invitations", post_invite)

