"""The updates room's routes: agent releases and rollout waves (the GIN Conference v8→v9 move, done gently).

The province uploads an agent wheel with its detached Ed25519 signature; the hub
verifies it against the province's key (``update_public_key``) and refuses any
package that key did not sign, keeps it with its SHA-256, and assigns districts to
numbered waves that open on a date. An admin login alone cannot publish code to the
districts: that takes the province's private key, which never touches the hub. Each
agent checks the signature again against the key it pinned at enrolment. An agent asks ``/agent/updates/check`` with its site
token; if its district is in an open wave whose release is newer than what it
runs, it gets the version, the digest and a download URL. The agent decides
*when* to install (never during or just before a briefing); the hub only
learns the result from the version the agent reports at its next hello, which
is what the wave-progress API counts.

Also here: the intake of self-test reports the agents push unprompted
(latest per site at ``/api/v1/selftests``, and a ``selftest`` event for the
control room).

Agent requests live under ``/agent/`` (like the agent WebSocket: no browser
session, so no CSRF token) and authenticate with the headers
``X-Salaklang-Site: <code>`` and ``X-Salaklang-Token: <site token>``. Not
``Authorization: Bearer``: that scheme means an operator's API token here,
and the page middleware would refuse a site token presented that way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, field_validator
from pydantic import Field as PField

from hub import audit
from hub.control.enrolment import check_site_token
from hub.control.registry import REGISTRY
from hub.keys import ENGINE, SETTINGS
from hub.models import Site, utcnow
from hub.updates import service, store
from hub.updates.model import WHEEL_NAME, parse_version
from hub.updates.store import AgentRelease
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond
from site_agent.protocol.signing import SignatureRefused, verify_package

log = logging.getLogger("hub.updates.http")

SITE_HEADER = "X-Salaklang-Site"
TOKEN_HEADER = "X-Salaklang-Token"


# --- request models -------------------------------------------------------------------


class WaveIn(BaseModel):
    release: str = PField(min_length=1, max_length=32)
    number: int = PField(ge=1, le=99)
    name: str = PField(default="", max_length=200)
    opens_at: datetime
    sites: list[str] = PField(min_length=1, max_length=1000)

    @field_validator("opens_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("opens_at needs a time zone (e.g. 2026-07-01T09:00:00+07:00)")
        return value.astimezone(UTC)


class ReleaseUpload(BaseModel):
    """The multipart form of an upload (described for the API; read part by part)."""

    file: bytes = PField(description="The agent wheel (.whl).")
    version: str = PField(max_length=32, description="PEP 440 version of the wheel.")
    signature: str = PField(max_length=2000, description="Base64 Ed25519 signature of the wheel by the province's key.")
    sha256: str = PField(default="", max_length=64, description="If given, checked against the file.")
    notes: str = PField(default="", max_length=4000)


class ReleaseOut(BaseModel):
    version: str
    filename: str
    sha256: str
    size: int
    signed: bool
    notes: str
    uploaded_at: datetime
    uploaded_by: str


class WaveCreated(BaseModel):
    id: int
    nudged: int


class WaveSiteOut(BaseModel):
    code: str
    name_th: str
    name_en: str
    version: str
    updated: bool
    online: bool


class WaveOut(BaseModel):
    id: int
    number: int
    name: str
    release: str
    opens_at: str
    open: bool
    total: int
    updated: int
    percent: float
    sites: list[WaveSiteOut]


class SelftestOut(BaseModel):
    site: str
    ready: bool
    reasons: list[str]
    checks: list[dict[str, Any]]
    trigger: str
    measured_at: float


def _too_large(what: str, limit: int, actual: int) -> web.HTTPException:
    return json_error(413, f"{what} larger than the hub's limit of {limit} bytes", limit=limit, actual=actual)


# --- agent authentication ---------------------------------------------------------------


async def require_site(request: web.Request) -> Site:
    """The district whose agent sent this request (site token + site header); 401 otherwise."""
    token = request.headers.get(TOKEN_HEADER, "").strip()
    code = request.headers.get(SITE_HEADER, "")
    if not token or not code:
        raise json_error(401, f"{SITE_HEADER} and {TOKEN_HEADER} headers required")
    engine = request.app[ENGINE]
    check = await asyncio.to_thread(check_site_token, engine, code, token)
    if not check.ok or check.site is None:
        await audit.arecord(
            engine, actor=f"agent:{code}", action="agent.http_refused", target=code, ok=False,
            ip=client_ip(request), detail={"path": request.path, "token_of": check.token_of},
        )
        raise json_error(401, "site token refused")
    return check.site


# --- handlers -------------------------------------------------------------------------------


@api("Publish an agent release signed by the province", role="admin", body=ReleaseUpload,
     body_media_type="multipart/form-data", response=ReleaseOut, status=201, tags=("updates",))
async def upload_release(request: web.Request) -> web.Response:
    """Multipart: ``file`` (the wheel), ``version``, ``signature`` (base64 Ed25519 by the province's
    key, required), optional ``sha256`` (checked) and ``notes``."""
    principal = await require_role(request, "admin")
    settings, engine = request.app[SETTINGS], request.app[ENGINE]
    if not settings.update_public_key:
        raise json_error(409, "no province key is configured (update_public_key): nothing can be published",
                         field="signature")
    limit = settings.agent_package_max_bytes
    declared = request.content_length
    if declared is not None and declared > limit + 64 * 1024:  # multipart framing on top of the file
        raise _too_large("package", limit, declared)
    if not request.content_type.startswith("multipart/"):
        raise json_error(400, "send multipart/form-data with a 'file' part")
    fields: dict[str, str] = {}
    digest = hashlib.sha256()
    target_dir = store.packages_dir(settings.data_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(dir=target_dir, suffix=".part")[1])
    try:
        try:
            size, filename = await _read_parts(request, fields, tmp, digest, limit)
        except (ValueError, LookupError, HttpProcessingError) as exc:
            # aiohttp's multipart parser says ValueError or InvalidHeader for a broken body,
            # LookupError for an unknown charset: the sender's mistake, not the hub's.
            raise json_error(400, f"the multipart body cannot be read: {str(exc)[:200]}", field="body") from exc
        version = fields.get("version", "").strip()
        if parse_version(version) is None:
            raise json_error(400, f"'version' must be a PEP 440 version, got {version!r}")
        if not filename or not WHEEL_NAME.match(filename) or size == 0:
            raise json_error(400, "'file' must be a non-empty .whl")
        sha = digest.hexdigest()
        claimed = fields.get("sha256", "").strip().lower()
        if claimed and claimed != sha:
            raise json_error(400, "sha256 does not match the uploaded file", sha256=sha)
        signature = fields.get("signature", "").strip()
        data = await asyncio.to_thread(tmp.read_bytes)
        try:
            verify_package(data, signature, settings.update_public_key)
        except SignatureRefused as exc:
            await audit.arecord(
                engine, actor=principal.actor, action="agent_release.refused", target=version, ok=False,
                ip=client_ip(request), detail={"sha256": sha, "reason": str(exc)},
            )
            raise json_error(400, f"signature refused: {exc}", field="signature") from exc
        final = target_dir / f"{version}-{sha[:12]}.whl"

        row = AgentRelease(
            version=version, filename=filename, sha256=sha, size=size,
            signature=signature, notes=fields.get("notes", ""),
            uploaded_by=principal.username,
        )
        try:
            row = await asyncio.to_thread(store.add_release, engine, row, tmp, final)
        except store.ReleaseExists as exc:
            raise json_error(409, f"version {version} is already published") from exc
    finally:
        await asyncio.to_thread(tmp.unlink, True)
    await audit.arecord(
        engine, actor=principal.actor, action="agent_release.publish", target=version,
        ip=client_ip(request), detail={"sha256": sha, "size": size, "filename": filename},
    )
    return respond(_release_out(row), status=201)


async def _read_parts(
    request: web.Request, fields: dict[str, str], tmp: Path, digest: Any, limit: int
) -> tuple[int, str]:
    """Stream the ``file`` part into ``tmp`` (hashing it), the other parts into ``fields``;
    returns the file's size and name."""
    size, filename = 0, ""
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        name = part.name
        if name == "file":
            filename = Path(part.filename or "").name
            with tmp.open("wb") as out:
                while chunk := await part.read_chunk(256 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise _too_large("package", limit, size)
                    digest.update(chunk)
                    out.write(chunk)
        elif name:
            fields[name] = (await part.text())[:4000]
    return size, filename


def _release_out(row: AgentRelease) -> ReleaseOut:
    return ReleaseOut(
        version=row.version, filename=row.filename, sha256=row.sha256, size=row.size,
        signed=bool(row.signature), notes=row.notes, uploaded_at=row.uploaded_at, uploaded_by=row.uploaded_by,
    )


@api("Published agent releases, newest first", role="viewer", response=list[ReleaseOut], tags=("updates",))
async def list_releases(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    rows = await asyncio.to_thread(store.releases, request.app[ENGINE])
    return respond([_release_out(r) for r in rows])


def _package_path(request: web.Request, release: AgentRelease) -> Path:
    return store.package_path(request.app[SETTINGS].data_dir, release)


async def download_package(request: web.Request) -> web.StreamResponse:
    site = await require_site(request)
    release = await asyncio.to_thread(store.release, request.app[ENGINE], request.match_info["version"])
    if release is None:
        raise json_error(404, "no such agent version")
    log.info("site %s downloads agent %s", site.code, release.version)
    return web.FileResponse(
        _package_path(request, release),
        headers={"Content-Disposition": f'attachment; filename="{release.filename}"', "X-SHA256": release.sha256},
    )


@api("The newest agent wheel (for a manual install)", role=None, response=bytes, tags=("updates",))
async def download_latest(request: web.Request) -> web.StreamResponse:
    """The newest wheel, for the manual install an ``update_required`` message points to.

    Public on purpose: an agent too old to talk to the hub must still be able
    to fetch its replacement; the package holds no secret.
    """
    release = await asyncio.to_thread(store.release, request.app[ENGINE], None)
    if release is None:
        raise json_error(404, "no agent version has been published yet")
    return web.FileResponse(
        _package_path(request, release),
        headers={"Content-Disposition": f'attachment; filename="{release.filename}"', "X-SHA256": release.sha256},
    )


async def check_update(request: web.Request) -> web.Response:
    site = await require_site(request)
    running = request.query.get("version", "")
    offer = await asyncio.to_thread(store.offer_for, request.app[ENGINE], site.code, running, utcnow())
    return web.json_response({"site": site.code, "running": running, "offer": offer})


@api("Open a rollout wave of a release for some districts", role="admin", body=WaveIn, response=WaveCreated,
     status=201, tags=("updates",))
async def create_wave(request: web.Request) -> web.Response:
    principal = await require_role(request, "admin")
    engine = request.app[ENGINE]
    body = await read_json(request, WaveIn)

    try:
        wave_id = await asyncio.to_thread(
            store.add_wave, engine, body.release, body.number, body.name, body.opens_at, body.sites
        )
    except store.UnknownRelease as exc:
        raise json_error(400, f"release {body.release} is not published") from exc
    except store.UnknownSites as exc:
        raise json_error(400, "unknown site codes", unknown=exc.codes) from exc
    await audit.arecord(
        engine, actor=principal.actor, action="agent_wave.create", target=f"wave {body.number}",
        ip=client_ip(request),
        detail={"release": body.release, "opens_at": body.opens_at.isoformat(), "sites": body.sites},
    )
    nudged = 0
    if body.opens_at <= utcnow():
        nudged = await service.nudge(request.app, body.sites)
    return respond(WaveCreated(id=wave_id, nudged=nudged), status=201)


@api("Rollout waves and how far each has got", role="viewer", response=list[WaveOut], tags=("updates",))
async def list_waves(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    online = set(request.app[REGISTRY].online_codes())
    data = await asyncio.to_thread(store.wave_progress, request.app[ENGINE], utcnow(), online)
    return respond([WaveOut.model_validate(w) for w in data])


async def upload_logs(request: web.Request) -> web.Response:
    """An agent's "send logs to the province": a gzip of its log files, size-limited."""
    site = await require_site(request)
    settings, engine = request.app[SETTINGS], request.app[ENGINE]
    limit = settings.agent_log_max_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large("log bundle", limit, declared)
    folder = settings.data_dir / "agent-logs" / site.code
    folder.mkdir(parents=True, exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + ".log.gz"
    size = 0
    path = folder / name
    try:
        with path.open("wb") as out:
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _too_large("log bundle", limit, size)
                out.write(chunk)
    except web.HTTPException:
        path.unlink(missing_ok=True)
        raise
    await audit.arecord(
        engine, actor=f"agent:{site.code}", action="agent.logs_uploaded", target=site.code,
        ip=client_ip(request), detail={"file": name, "bytes": size},
    )
    return web.json_response({"stored": name, "bytes": size}, status=201)


@api("The latest self-test each agent pushed, by site", role="viewer", response=dict[str, SelftestOut],
     tags=("updates",))
async def list_selftests(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    selftests = {site: SelftestOut.model_validate(entry) for site, entry in request.app[service.SELFTESTS].items()}
    return respond(selftests)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/agent-versions", list_releases)
    r.add_post("/api/v1/agent-versions", upload_release)
    r.add_get("/api/v1/agent-versions/latest", download_latest)
    r.add_get("/api/v1/agent-waves", list_waves)
    r.add_post("/api/v1/agent-waves", create_wave)
    r.add_get("/api/v1/selftests", list_selftests)
    # Agent-facing: site-token headers, no session.
    r.add_get("/agent/updates/check", check_update)
    r.add_get("/agent/updates/{version}/package", download_package)
    r.add_post("/agent/logs", upload_logs)
