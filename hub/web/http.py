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
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
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
    AuthError,
    Principal,
    client_ip,
    create_api_token,
    create_operator,
    require_role,
)
from hub.web.body import read_json
from hub.web.errors import json_error

# --- health and metrics ------------------------------------------------------------------


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
    return web.json_response(
        {"status": "ok" if ok else "degraded", "database": ok, "version": hub.__version__,
         "agents_connected": int(agents)},
        status=200 if ok else 503,
    )


async def metrics_view(request: web.Request) -> web.Response:
    if not request.app[SETTINGS].metrics_public:
        await require_role(request, "viewer")
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


# --- who am I, audit ---------------------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    principal = await require_role(request, "viewer")
    return web.json_response({"username": principal.username, "role": principal.role, "via": principal.via})


async def audit_events(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "100"))))
    except ValueError as exc:
        raise json_error(400, "limit must be a number", field="limit") from exc
    rows = await asyncio.to_thread(
        audit.recent, request.app[ENGINE], limit=limit,
        action_prefix=request.query.get("action", ""), target=request.query.get("target", ""),
    )
    return web.json_response(
        [
            {"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
             "target": r.target, "ok": r.ok, "ip": r.ip, "detail": r.detail}
            for r in rows
        ]
    )


# --- operators -----------------------------------------------------------------------------------


class OperatorIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    role: str = Field(pattern="^(viewer|operator|admin)$")
    display_name: str = Field(default="", max_length=200)


class OperatorPatch(BaseModel):
    role: str | None = Field(default=None, pattern="^(viewer|operator|admin)$")
    disabled: bool | None = None


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    username: str | None = Field(default=None, max_length=64)


async def _audit(request: web.Request, who: Principal, action: str, target: str, **detail: Any) -> None:
    await audit.arecord(request.app[ENGINE], actor=who.actor, action=action, target=target,
                        ip=client_ip(request), detail=detail)


def _id(request: web.Request, what: str) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(404, f"no such {what}") from exc


async def create_operator_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body = await read_json(request, OperatorIn)
    try:
        op = await asyncio.to_thread(
            create_operator, request.app[ENGINE], body.username, body.password, body.role, body.display_name
        )
    except AuthError as exc:
        raise json_error(400, str(exc), field="username" if "user" in str(exc) else "password") from exc
    await _audit(request, who, "operator.created", body.username, role=body.role)
    return web.json_response({"id": op.id, "username": op.username, "role": op.role}, status=201)


async def update_operator_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body = await read_json(request, OperatorPatch)
    op_id = _id(request, "operator")
    if op_id == who.operator_id and (body.disabled or (body.role and body.role != "admin")):
        # An admin locking themselves out leaves nobody to undo it.
        raise json_error(409, "you cannot demote or disable your own account", field="role")
    data = await asyncio.to_thread(store.update_operator, request.app[ENGINE], op_id, body.role, body.disabled)
    if data is None:
        raise json_error(404, "no such operator")
    await _audit(request, who, "operator.updated", data["username"], role=data["role"], disabled=data["disabled"])
    return web.json_response(data)


# --- API tokens ----------------------------------------------------------------------------------


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
    return web.json_response({"token": token, "username": owner, "name": body.name}, status=201)


async def revoke_token_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    token_id = _id(request, "token")
    data = await asyncio.to_thread(store.revoke_token, request.app[ENGINE], token_id)
    if data is None:
        raise json_error(404, "no such token")
    await _audit(request, who, "token.revoked", str(token_id), label=data["name"])
    return web.json_response(data)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics_view)
    r.add_get("/api/v1/me", me)
    r.add_get("/api/v1/audit", audit_events)
    r.add_post("/api/v1/operators", create_operator_api)
    r.add_post("/api/v1/operators/{id}", update_operator_api)
    r.add_post("/api/v1/tokens", create_token_api)
    r.add_post("/api/v1/tokens/{id}/revoke", revoke_token_api)
