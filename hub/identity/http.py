"""Identity routes: who is in the room, roll calls, the confidential flag, join codes.

A district calls with its agent's site token (``Authorization: Bearer <site token>``)
and may act only for itself; an operator (API token or session) may act for any
site — the control room confirming on a clerk's behalf. :func:`caller` is shared
with the polls room.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from hub.control.store import Agent
from hub.db import session_scope
from hub.identity.keys import IDENTITY, IDENTITY_AGENTS
from hub.identity.model import IdentityRefused, Person, Refusal, RollCallState
from hub.identity.store import IdentityRecord
from hub.keys import ENGINE
from hub.models import Site
from hub.web.auth import client_ip, require_role, sha256_hex
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond_as

_STATUS = {
    Refusal.UNKNOWN_BRIEFING: 404, Refusal.NO_ROLL_CALL: 404,
    Refusal.NOT_IN_BRIEFING: 403, Refusal.SECOND_FACTOR_REQUIRED: 403, Refusal.CONFIDENTIAL_NO_GUESTS: 403,
    Refusal.EMPTY_NAME: 400, Refusal.TOO_MANY: 400, Refusal.CODE_WRONG: 403, Refusal.CODE_EXPIRED: 403,
    Refusal.CODE_USED: 403, Refusal.CODE_ATTEMPTS: 429,
}


def refusal(exc: IdentityRefused) -> web.HTTPException:
    return json_error(_STATUS.get(exc.reason, 409), str(exc), reason=exc.reason.value,
                      message_th=exc.message_th, message_en=exc.message_en)


@dataclass(frozen=True)
class Caller:
    actor: str  # "agent:UDN01" or "operator:somchai"
    site: str | None  # the district a site token speaks for; None for an operator
    ip: str

    def acting_for(self, requested: str | None) -> str:
        """The site this call is about: a district only ever for itself."""
        if self.site is not None:
            if requested not in (None, self.site):
                raise json_error(403, "ทำแทนอำเภออื่นไม่ได้ / a district acts only for itself", field="site")
            return self.site
        if not requested:
            raise json_error(400, "ต้องระบุอำเภอ / site is required", field="site")
        return requested


def _site_for_token(engine: Any, token: str) -> str | None:
    with session_scope(engine) as s:
        row = s.exec(select(Site.code).join(Agent, col(Agent.site_id) == col(Site.id))
                     .where(Agent.token_hash == sha256_hex(token))).first()
    return row


async def caller(request: web.Request, operator_role: str = "operator") -> Caller:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        site = await asyncio.to_thread(_site_for_token, request.app[ENGINE], header[7:].strip())
        if site is not None:
            return Caller(f"agent:{site}", site, client_ip(request))
    principal = await require_role(request, operator_role)
    return Caller(principal.actor, None, client_ip(request))


def conference_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(400, "conference id must be a number") from exc


# --- bodies ---------------------------------------------------------------------------------


class PersonIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    position: str = Field(default="", max_length=200)


class ConfirmBody(BaseModel):
    site: str | None = Field(default=None, max_length=32)
    people: list[PersonIn] = Field(min_length=1, max_length=30)


class GuestBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(default="", max_length=200)


class RollCallBody(BaseModel):
    seconds: float = Field(default=60, gt=0, le=3600)


class AnswerBody(BaseModel):
    participant: str | None = Field(default=None, max_length=64)
    people: list[PersonIn] | None = Field(default=None, max_length=30)


class ConfidentialBody(BaseModel):
    confidential: bool


class CodeBody(BaseModel):
    site: str | None = Field(default=None, max_length=32)


class VerifyBody(BaseModel):
    site: str | None = Field(default=None, max_length=32)
    code: str = Field(min_length=1, max_length=16)


class JoinCheckBody(BaseModel):
    participant: str | None = Field(default=None, max_length=64)


# --- answers --------------------------------------------------------------------------------


class _Out(BaseModel):
    # Exactly the keys the handlers build: an extra or missing one is a 500 in the tests, not a silent drop.
    model_config = ConfigDict(extra="forbid")


class IdentityOut(_Out):
    participant: str
    name: str
    position: str
    organisation: str
    confirmed_at: str
    via: str
    roll_call: int | None


class GuestOut(_Out):
    participant: str


class RollCallOut(_Out):
    id: int
    open: bool
    seconds_left: float
    answered: list[str]
    missing: list[str]
    answered_at: dict[str, str]


class ConfidentialOut(_Out):
    conference: int
    confidential: bool


class CodeSentOut(_Out):
    site: str
    sent_to: str


class CodeVerifiedOut(_Out):
    site: str
    verified: bool


class AdmittedOut(_Out):
    participant: str
    admitted: bool


def _iso(value: datetime) -> str:
    return value.isoformat()


def identity_json(r: IdentityRecord) -> dict[str, Any]:
    return {"participant": r.participant, "name": r.name, "position": r.position, "organisation": r.organisation,
            "confirmed_at": _iso(r.confirmed_at), "via": r.via, "roll_call": r.roll_call_id}


def roll_call_json(state: RollCallState) -> dict[str, Any]:
    return {"id": state.id, "open": state.open, "seconds_left": round(state.seconds_left, 1),
            "answered": state.answered, "missing": state.missing,
            "answered_at": {p: _iso(t) for p, t in state.answered_at.items()}}


async def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except IdentityRefused as exc:
        raise refusal(exc) from exc


# --- handlers -------------------------------------------------------------------------------


@api("Who was confirmed present, per site and guest", role="viewer", response=list[IdentityOut], tags=("identity",))
async def list_identities(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    rows = await _run(request.app[IDENTITY].identities, conference_id(request))
    return respond_as(list[IdentityOut], [identity_json(r) for r in rows])


@api("Confirm the people present at a site (its site token, or an operator for it)", role="operator",
     body=ConfirmBody, response=list[IdentityOut], status=201, tags=("identity",))
async def confirm(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await read_json(request, ConfirmBody)
    site = who.acting_for(body.site)
    via = "agent" if who.site else "api"
    people = [Person(p.name, p.position) for p in body.people]
    rows = await _run(request.app[IDENTITY].confirm_site, conference_id(request), site, people, via=via,
                      actor=who.actor, ip=who.ip)
    return respond_as(list[IdentityOut], [identity_json(r) for r in rows], status=201)


@api("Register a guest by name and organisation", role="operator", body=GuestBody, response=GuestOut,
     status=201, tags=("identity",))
async def add_guest(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    body = await read_json(request, GuestBody)
    key = await _run(request.app[IDENTITY].register_guest, conference_id(request),
                     Person(body.name, organisation=body.organisation), via="api", actor=principal.actor,
                     ip=client_ip(request))
    return respond_as(GuestOut, {"participant": key}, status=201)


@api("Start a roll call; every site's window asks its clerk", role="operator", body=RollCallBody,
     response=RollCallOut, status=201, tags=("identity",))
async def start_roll_call(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    body = await read_json(request, RollCallBody)
    cid = conference_id(request)
    state = await _run(request.app[IDENTITY].start_roll_call, cid, body.seconds,
                       actor=principal.actor, ip=client_ip(request))
    await request.app[IDENTITY_AGENTS].push_roll_call(cid, state)  # every site's window asks its clerk
    return respond_as(RollCallOut, roll_call_json(state), status=201)


@api("The conference's roll calls", role="viewer", response=list[RollCallOut], tags=("identity",))
async def list_roll_calls(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    states = await _run(request.app[IDENTITY].roll_call_states, conference_id(request))
    return respond_as(list[RollCallOut], [roll_call_json(s) for s in states])


@api("Answer a roll call (a site token for itself, or an operator for a site)", role="operator",
     body=AnswerBody, response=RollCallOut, tags=("identity",))
async def answer_roll_call(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await read_json(request, AnswerBody)
    participant = who.acting_for(body.participant)
    people = [Person(p.name, p.position) for p in body.people] if body.people else None
    state = await _run(request.app[IDENTITY].answer_roll_call, conference_id(request),
                       int(request.match_info["rid"]), participant, actor=who.actor, ip=who.ip, people=people)
    return respond_as(RollCallOut, roll_call_json(state))


@api("Mark the briefing confidential (second factor, no guests) or not", role="operator",
     body=ConfidentialBody, response=ConfidentialOut, tags=("identity",))
async def put_confidential(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    body = await read_json(request, ConfidentialBody)
    cid = conference_id(request)
    await _run(request.app[IDENTITY].set_confidential, cid, body.confidential, actor=principal.actor,
               ip=client_ip(request))
    return respond_as(ConfidentialOut, {"conference": cid, "confidential": body.confidential})


@api("Whether the briefing is confidential", role="viewer", response=ConfidentialOut, tags=("identity",))
async def get_confidential(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    cid = conference_id(request)
    on = await _run(request.app[IDENTITY].is_confidential, cid)
    return respond_as(ConfidentialOut, {"conference": cid, "confidential": on})


@api("Mail a one-time join code to the district's contact (answers the masked address)", role="operator",
     body=CodeBody, response=CodeSentOut, status=201, tags=("identity",))
async def issue_code(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await read_json(request, CodeBody)
    site = who.acting_for(body.site)
    sent_to = await _run(request.app[IDENTITY].issue_join_code, conference_id(request), site, actor=who.actor,
                         ip=who.ip)
    return respond_as(CodeSentOut, {"site": site, "sent_to": sent_to}, status=201)


@api("Check a district's one-time join code", role="operator", body=VerifyBody, response=CodeVerifiedOut,
     tags=("identity",))
async def verify_code(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await read_json(request, VerifyBody)
    site = who.acting_for(body.site)
    await _run(request.app[IDENTITY].verify_join_code, conference_id(request), site, body.code, actor=who.actor,
               ip=who.ip)
    return respond_as(CodeVerifiedOut, {"site": site, "verified": True})


@api("Whether a participant may join now", role="operator", body=JoinCheckBody, response=AdmittedOut,
     tags=("identity",))
async def join_check(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await read_json(request, JoinCheckBody)
    participant = who.acting_for(body.participant)
    await _run(request.app[IDENTITY].check_join, conference_id(request), participant)
    return respond_as(AdmittedOut, {"participant": participant, "admitted": True})


def add_routes(app: web.Application) -> None:
    base = "/api/v1/conferences/{id:\\d+}"
    r = app.router
    r.add_get(base + "/identities", list_identities)
    r.add_post(base + "/identities", confirm)
    r.add_post(base + "/guests", add_guest)
    r.add_get(base + "/roll-calls", list_roll_calls)
    r.add_post(base + "/roll-calls", start_roll_call)
    r.add_post(base + "/roll-calls/{rid:\\d+}/answer", answer_roll_call)
    r.add_get(base + "/confidential", get_confidential)
    r.add_put(base + "/confidential", put_confidential)
    r.add_post(base + "/join-codes", issue_code)
    r.add_post(base + "/join-codes/verify", verify_code)
    r.add_post(base + "/join-check", join_check)
