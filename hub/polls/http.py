"""Poll routes. The chair (an operator) creates and closes; a district creates when the chair
allows it; votes come with a site token (the agent, phase 2 from its window) or from an
operator recording a site's vote. The choice travels in the body only, never in the URL,
so access logs cannot carry it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub import audit
from hub.identity.http import caller, conference_id
from hub.keys import ENGINE
from hub.models import utcnow
from hub.polls.keys import POLL_CARD, POLLS
from hub.polls.model import Ballot, PollRefused, PollSpec, Refusal, Unit, Voter
from hub.polls.service import PollView
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond_as

_STATUS = {Refusal.UNKNOWN_POLL: 404, Refusal.NOT_IN_BRIEFING: 403, Refusal.CREATE_NOT_ALLOWED: 403,
           Refusal.NOT_IDENTIFIED: 403, Refusal.BAD_OPTION: 400, Refusal.BAD_POLL: 400,
           Refusal.PERSON_REQUIRED: 400}


def refusal(exc: PollRefused) -> web.HTTPException:
    return json_error(_STATUS.get(exc.reason, 409), str(exc), reason=exc.reason.value,
                      message_th=exc.message_th, message_en=exc.message_en)


class CreateBody(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    options: list[str] = Field(min_length=2, max_length=10)
    ballot: Ballot = Ballot.OPEN
    unit: Unit = Unit.SITE
    closes_in_s: float | None = Field(default=None, gt=0, le=24 * 3600)


class VoteBody(BaseModel):
    option: int = Field(ge=0, le=100)
    participant: str | None = Field(default=None, max_length=64)
    person: str | None = Field(default=None, max_length=200)


class CardBody(BaseModel):
    show: bool
    seconds: float | None = Field(default=None, gt=0, le=3600)  # None: until the chair takes it down


class SettingsBody(BaseModel):
    districts_may_create: bool


class _Out(BaseModel):
    # Exactly the keys the handlers build: an extra or missing one is a 500 in the tests, not a silent drop.
    model_config = ConfigDict(extra="forbid", strict=True)


class ChoiceOut(_Out):
    voter: str
    option: int
    at: str


class PollOut(_Out):
    """One poll (``view_json``); ``choices`` only on an open ballot, ``counts`` null while a secret one runs."""

    id: int
    conference: int
    question: str
    options: list[str]
    ballot: str
    unit: str
    closes_at: str | None
    created_by: str
    created_at: str
    open: bool
    ended_at: str | None
    voters: list[str]
    counts: list[int] | None
    leaders: list[int] | None
    choices: list[ChoiceOut] | None = None


class VotedOut(_Out):
    voted: bool
    participant: str


class PollSettingsOut(_Out):
    conference: int
    districts_may_create: bool


class CardOut(_Out):
    conference: int
    poll: int
    shown: bool


def view_json(v: PollView) -> dict[str, Any]:
    p = v.poll
    out: dict[str, Any] = {
        "id": p.id, "conference": p.conference_id, "question": p.spec.question, "options": list(p.spec.options),
        "ballot": p.spec.ballot.value, "unit": p.spec.unit.value,
        "closes_at": p.spec.closes_at.isoformat() if p.spec.closes_at else None,
        "created_by": p.created_by, "created_at": p.created_at.isoformat(), "open": v.open,
        "ended_at": v.ended_at.isoformat() if v.ended_at else None, "voters": v.voters,
        "counts": list(v.result.counts) if v.result else None,
        "leaders": list(v.result.leaders) if v.result else None,
    }
    if p.spec.ballot is Ballot.OPEN:
        out["choices"] = [{"voter": who, "option": o, "at": at.isoformat()} for who, o, at in v.choices]
    return out


def _poll_id(request: web.Request) -> int:
    return int(request.match_info["pid"])


@api("Create a poll (the chair, or a district's site token when the chair allows it)", role="operator", body=CreateBody,
     response=PollOut, status=201, tags=("polls",))
async def create(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await read_json(request, CreateBody)
    closes = utcnow() + timedelta(seconds=body.closes_in_s) if body.closes_in_s else None
    spec = PollSpec(body.question, tuple(body.options), body.ballot, body.unit, closes)
    svc = request.app[POLLS]
    try:
        poll = await svc.acreate(conference_id(request), spec, actor=who.actor, ip=who.ip, district=who.site)
        view = await _view(request, poll.id)
    except PollRefused as exc:
        raise refusal(exc) from exc
    return respond_as(PollOut, view_json(view), status=201)


async def _view(request: web.Request, poll_id: int) -> PollView:
    return await asyncio.to_thread(request.app[POLLS].view, conference_id(request), poll_id)


@api("The conference's polls", role="viewer", response=list[PollOut], tags=("polls",))
async def list_polls(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    views = await asyncio.to_thread(request.app[POLLS].polls, conference_id(request))
    return respond_as(list[PollOut], [view_json(v) for v in views])


@api("One poll", role="viewer", response=PollOut, tags=("polls",))
async def get_poll(request: web.Request) -> web.Response:
    await caller(request, "viewer")
    try:
        return respond_as(PollOut, view_json(await _view(request, _poll_id(request))))
    except PollRefused as exc:
        raise refusal(exc) from exc


@api("Close a poll now", role="operator", response=PollOut, tags=("polls",))
async def close(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    try:
        await request.app[POLLS].aclose(conference_id(request), _poll_id(request), actor=principal.actor,
                                        ip=client_ip(request))
        return respond_as(PollOut, view_json(await _view(request, _poll_id(request))))
    except PollRefused as exc:
        raise refusal(exc) from exc


@api("Vote (a district's site token, or an operator recording a site's vote)", role="operator", body=VoteBody,
     response=VotedOut, status=201, tags=("polls",))
async def vote(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await read_json(request, VoteBody)
    participant = who.acting_for(body.participant)
    try:
        await request.app[POLLS].avote(conference_id(request), _poll_id(request), Voter(participant, body.person),
                                       body.option, actor=who.actor, ip=who.ip)
    except PollRefused as exc:
        raise refusal(exc) from exc
    # Nothing about the tally in the answer: for a secret ballot it would pair voter and choice.
    return respond_as(VotedOut, {"voted": True, "participant": participant}, status=201)


@api("Whether districts may create polls", role="operator", body=SettingsBody, response=PollSettingsOut,
     tags=("polls",))
async def put_settings(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    body = await read_json(request, SettingsBody)
    cid = conference_id(request)
    try:
        await asyncio.to_thread(request.app[POLLS].allow_districts, cid, body.districts_may_create,
                                actor=principal.actor, ip=client_ip(request))
    except PollRefused as exc:
        raise refusal(exc) from exc
    return respond_as(PollSettingsOut, {"conference": cid, "districts_may_create": body.districts_may_create})


@api("Show the poll's results card in the program, or take it down (audited)", role="operator",
     body=CardBody, response=CardOut, tags=("polls",))
async def card(request: web.Request) -> web.Response:
    """Show the poll's results card in the program, or take it down."""
    principal = await require_role(request, "operator")
    body = await read_json(request, CardBody)
    cid, pid = conference_id(request), _poll_id(request)
    try:
        if body.show:
            await request.app[POLL_CARD].show(cid, pid, body.seconds)
        else:
            await asyncio.to_thread(request.app[POLLS].view, cid, pid)  # a forged poll id is a 404 here too
            await request.app[POLL_CARD].hide(cid)
    except PollRefused as exc:
        raise refusal(exc) from exc
    await audit.arecord(request.app[ENGINE], actor=principal.actor, action="poll.card_shown" if body.show
                        else "poll.card_hidden", target=f"conference:{cid}", ip=client_ip(request),
                        detail={"poll": pid})
    return respond_as(CardOut, {"conference": cid, "poll": pid, "shown": body.show})


def add_routes(app: web.Application) -> None:
    base = "/api/v1/conferences/{id:\\d+}/polls"
    r = app.router
    r.add_get(base, list_polls)
    r.add_post(base, create)
    r.add_put(base + "/settings", put_settings)
    r.add_get(base + "/{pid:\\d+}", get_poll)
    r.add_post(base + "/{pid:\\d+}/close", close)
    r.add_post(base + "/{pid:\\d+}/votes", vote)
    r.add_post(base + "/{pid:\\d+}/card", card)
