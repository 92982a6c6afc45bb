"""Evidence routes: build and download a briefing's signed package, export the public key."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.evidence.keys import EVIDENCE
from hub.evidence.signing import load_or_create_key, public_key_pem
from hub.identity.http import conference_id
from hub.identity.model import IdentityRefused
from hub.keys import SETTINGS
from hub.web.auth import require_role
from hub.web.errors import json_error
from hub.web.openapi import api, respond, respond_as


def _download(path: Path, data: bytes, sha256: str) -> web.Response:
    return web.Response(body=data, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{path.name}"', "X-Evidence-SHA256": sha256})


class EvidenceBuiltOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conference: int
    sha256: str
    size: int
    built_at: str
    audit_head: int
    download: str


@api("Build a fresh signed evidence package of the briefing (e.g. after it ended)", role="operator",
     response=EvidenceBuiltOut, status=201, tags=("evidence",))
async def build(request: web.Request) -> web.Response:
    """A fresh package (e.g. after the briefing ended); returns its details."""
    principal = await require_role(request, "operator")
    try:
        built = await asyncio.to_thread(request.app[EVIDENCE].build, conference_id(request), actor=principal.actor)
    except IdentityRefused as exc:
        raise json_error(404, str(exc)) from exc
    r = built.record
    return respond_as(EvidenceBuiltOut, {"conference": r.conference_id, "sha256": r.sha256, "size": r.size,
                                         "built_at": r.built_at.isoformat(), "audit_head": r.audit_head_seq,
                                         "download": f"/api/v1/conferences/{r.conference_id}/evidence"},
                      status=201)


@api("Download the briefing's newest signed evidence package (built now if there is none)", role="viewer",
     response=bytes, file_media_type="application/zip", tags=("evidence",))
async def download(request: web.Request) -> web.Response:
    """The newest package of the briefing, built now if there is none yet."""
    principal = await require_role(request, "viewer")
    svc = request.app[EVIDENCE]
    cid = conference_id(request)
    row = await asyncio.to_thread(svc.latest, cid)
    if row is not None and Path(row.path).is_file():
        path = Path(row.path)
        return _download(path, await asyncio.to_thread(path.read_bytes), row.sha256)
    try:
        built = await asyncio.to_thread(svc.build, cid, actor=principal.actor)
    except IdentityRefused as exc:
        raise json_error(404, str(exc)) from exc
    return _download(built.path, built.data, built.record.sha256)


class PublicKey(BaseModel):
    algorithm: str
    public_key_pem: str


@api("The hub's Ed25519 public key that signs evidence packages", role=None, response=PublicKey,
     tags=("evidence",))
async def public_key(request: web.Request) -> web.Response:
    key = await asyncio.to_thread(load_or_create_key, request.app[SETTINGS].data_dir)
    return respond(PublicKey(algorithm="Ed25519", public_key_pem=public_key_pem(key)))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/conferences/{id:\\d+}/evidence", build)
    r.add_get("/api/v1/conferences/{id:\\d+}/evidence", download)
    r.add_get("/api/v1/evidence/public-key", public_key)
