"""The hub's own JSON routes, the ones no feature owns.

- ``/healthz`` and ``/metrics``: the process's health probe and Prometheus metrics. They
  read only kernel state (the database, the metrics registry; the agent count comes from
  the ``salaklang_agents_connected`` gauge the control room keeps), so the kernel's web
  room needs no feature room.
- ``/api/v1/me``: who the caller is (the authentication this room does).
- ``/api/v1/audit``: the audit log (a kernel table) for administrators.
- ``/api/v1/operators`` and ``/api/v1/tokens``: accounts and API tokens, whose tables
  this room owns (:mod:`hub.web.store`); the admin page calls them with its CSRF token,
  scripts with a bearer token. Every change is audited.
- ``/api/v1/me/password`` (a user changes their own password) and
  ``/api/v1/operators/{id}/password`` (an admin resets one).

Each handler declares its models with :func:`hub.web.openapi.api`; the OpenAPI
description is made of them.
"""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from aiohttp_session import get_session
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlmodel import select

import hub
from hub import audit
from hub.db import session_scope
from hub.keys import ENGINE, METRICS, SETTINGS
from hub.models import Site
from hub.web import store
from hub.web.auth import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AuthError,
    Principal,
    change_password,
    client_ip,
    create_api_token,
    create_operator,
    require_role,
    session_id,
    set_password,
)
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond
from hub.web.params import path_id, query_int

# --- health and metrics ------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    version: str
    agents_connected: int


async def healthz(request: web.Request) -> web.Response:
    def db_ok() -> bool:
        with session_scope(request.app[ENGINE]) as session:
            session.exec(select(Site.id).limit(1)).first()
        return True

    try:
        ok = await asyncio.to_thread(db_ok)
    except Exception:
        ok = False
    agents = request.app[METRICS].registry.get_sample_value("salaklang_agents_connected") or 0
    health = Health(status="ok" if ok else "degraded", database=ok, version=hub.__version__,
                    agents_connected=int(agents))
    return respond(health, status=200 if ok else 503)


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False  # a Unix socket or no peer address: not provably this machine


async def metrics_view(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    # Private by default: the counters tell who is online and how the hub is loaded.
    if not settings.metrics_public and not (settings.metrics_loopback and _loopback(request)):
        await require_role(request, "viewer")
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


# --- who am I, audit ---------------------------------------------------------------------------


class MeOut(BaseModel):
    username: str
    role: Literal["viewer", "operator", "admin"]
    via: Literal["session", "token"]


@api("Who the caller is", role="viewer", response=MeOut, tags=("accounts",))
async def me(request: web.Request) -> web.Response:
    principal = await require_role(request, "viewer")
    return respond(MeOut(username=principal.username, role=principal.role, via=principal.via))


class AuditQuery(BaseModel):
    limit: int = Field(default=100, ge=1, le=1000, description="How many events, newest first.")
    action: str = Field(default="", max_length=64, description="Only actions starting with this.")
    target: str = Field(default="", max_length=200, description="Only this target.")


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    ok: bool
    ip: str
    detail: dict[str, Any]


@api("The audit log, newest first", role="admin", query=AuditQuery, response=list[AuditEventOut], tags=("accounts",))
async def audit_events(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    limit = query_int(request, "limit", 100, lo=1, hi=1000)
    rows = await asyncio.to_thread(
        audit.recent, request.app[ENGINE], limit=limit,
        action_prefix=request.query.get("action", "")[:64], target=request.query.get("target", "")[:200],
    )
    return respond([
        AuditEventOut(id=r.id or 0, at=r.at, actor=r.actor, action=r.action, target=r.target, ok=r.ok,
                      ip=r.ip, detail=r.detail)
        for r in rows
    ])


# --- operators -----------------------------------------------------------------------------------

Role = Literal["viewer", "operator", "admin"]
# The policy's own bounds; what is between them is judged by hub.web.auth.password_problem.
Password = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class OperatorIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Password
    role: Role
    display_name: str = Field(default="", max_length=200)


class OperatorCreated(BaseModel):
    id: int
    username: str
    role: Role


class OperatorPatch(BaseModel):
    role: Role | None = None
    disabled: bool | None = None


class OperatorOut(BaseModel):
    id: int
    username: str
    role: Role
    disabled: bool


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Password


class PasswordReset(BaseModel):
    new_password: str = Password


class PasswordChanged(BaseModel):
    ok: bool
    sessions_ended: Literal["other", "all"]


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    username: str | None = Field(default=None, max_length=64)


class TokenCreated(BaseModel):
    token: str = Field(description="Shown once: only its hash is kept.")
    username: str
    name: str


class TokenRevoked(BaseModel):
    id: int
    name: str
    revoked_at: datetime


async def _audit(request: web.Request, who: Principal, action: str, target: str, **detail: Any) -> None:
    await audit.arecord(request.app[ENGINE], actor=who.actor, action=action, target=target,
                        ip=client_ip(request), detail=detail)


@api("Create an operator account", role="admin", body=OperatorIn, response=OperatorCreated, status=201,
     tags=("accounts",))
async def create_operator_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body = await read_json(request, OperatorIn)
    try:
        op = await asyncio.to_thread(
            create_operator, request.app[ENGINE], body.username, body.password, body.role, body.display_name
        )
    except AuthError as exc:
        raise json_error(400, str(exc), field="password" if "password" in str(exc) else "username") from exc
    await _audit(request, who, "operator.created", body.username, role=body.role)
    return respond(OperatorCreated(id=op.id or 0, username=op.username, role=body.role), status=201)


@api("Change an operator's role or disable them (takes effect at their next request)", role="admin",
     body=OperatorPatch, response=OperatorOut, tags=("accounts",))
async def update_operator_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body = await read_json(request, OperatorPatch)
    op_id = path_id(request)
    if op_id == who.operator_id and (body.disabled or (body.role and body.role != "admin")):
        # An admin locking themselves out leaves nobody to undo it.
        raise json_error(409, "you cannot demote or disable your own account", field="role")
    data = await asyncio.to_thread(store.update_operator, request.app[ENGINE], op_id, body.role, body.disabled)
    if data is None:
        raise json_error(404, "no such operator")
    await _audit(request, who, "operator.updated", data["username"], role=data["role"], disabled=data["disabled"])
    return respond(OperatorOut.model_validate(data))


@api("Change your own password (the current one is required; your other sessions end)", role="viewer",
     body=PasswordChange, response=PasswordChanged, tags=("accounts",))
async def change_own_password(request: web.Request) -> web.Response:
    who = await require_role(request, "viewer")
    body = await read_json(request, PasswordChange)
    keep = session_id(await get_session(request)) if who.via == "session" else ""
    try:
        await asyncio.to_thread(
            change_password, request.app[ENGINE], who.operator_id, body.current_password, body.new_password, keep
        )
    except AuthError as exc:
        field = "current_password" if "current" in str(exc) else "new_password"
        await _audit(request, who, "password.change_refused", who.username, reason=field)
        raise json_error(400, str(exc), field=field) from exc
    await _audit(request, who, "password.changed", who.username)
    return respond(PasswordChanged(ok=True, sessions_ended="other"))


@api("Reset an operator's password (every session of theirs ends)", role="admin", body=PasswordReset,
     response=PasswordChanged, tags=("accounts",))
async def reset_password_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body = await read_json(request, PasswordReset)
    op_id = path_id(request)
    try:
        found = await asyncio.to_thread(set_password, request.app[ENGINE], op_id, body.new_password, "password_reset",
                                        username=await asyncio.to_thread(store.username_of, request.app[ENGINE], op_id))
    except AuthError as exc:
        raise json_error(400, str(exc), field="new_password") from exc
    if not found:
        raise json_error(404, "no such operator")
    await _audit(request, who, "password.reset", str(op_id))
    return respond(PasswordChanged(ok=True, sessions_ended="all"))


# --- API tokens ----------------------------------------------------------------------------------


@api("Create an API token (shown once)", role="admin", body=TokenIn, response=TokenCreated, status=201,
     tags=("accounts",))
async def create_token_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body = await read_json(request, TokenIn)
    owner = body.username or who.username
    try:
        token = await asyncio.to_thread(create_api_token, request.app[ENGINE], owner, body.name)
    except AuthError as exc:
        raise json_error(400, str(exc), field="username") from exc
    await _audit(request, who, "token.created", owner, label=body.name)
    # Shown once: only its hash is stored.
    return respond(TokenCreated(token=token, username=owner, name=body.name), status=201)


@api("Revoke an API token", role="admin", response=TokenRevoked, tags=("accounts",))
async def revoke_token_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    token_id = path_id(request)
    data = await asyncio.to_thread(store.revoke_token, request.app[ENGINE], token_id)
    if data is None:
        raise json_error(404, "no such token")
    await _audit(request, who, "token.revoked", str(token_id), label=data["name"])
    return respond(TokenRevoked.model_validate(data))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics_view)
    r.add_get("/api/v1/me", me)
    r.add_post("/api/v1/me/password", change_own_password)
    r.add_get("/api/v1/audit", audit_events)
    r.add_post("/api/v1/operators", create_operator_api)
    r.add_post("/api/v1/operators/{id}", update_operator_api)
    r.add_post("/api/v1/operators/{id}/password", reset_password_api)
    r.add_post("/api/v1/tokens", create_token_api)
    r.add_post("/api/v1/tokens/{id}/revoke", revoke_token_api)
