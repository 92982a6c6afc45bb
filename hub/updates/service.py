"""Agent releases and rollout waves (the GIN Conference v8→v9 move, done gently).

The province uploads an agent wheel; the hub keeps it with its SHA-256 (and
an optional detached signature), and assigns districts to numbered waves that
open on a date. An agent asks ``/agent/updates/check`` with its site
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
import contextlib
import hashlib
import logging
import re
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import BodyPartReader, web
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, field_validator
from pydantic import Field as PField
from sqlmodel import Field, SQLModel, col, select

from hub import audit
from hub.control.enrolment import check_site_token
from hub.control.registry import REGISTRY, AgentOffline
from hub.db import session_scope
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.models import Agent, Site, utcnow
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from site_agent import protocol as p

log = logging.getLogger("hub.updates.service")

SITE_HEADER = "X-Salaklang-Site"
TOKEN_HEADER = "X-Salaklang-Token"
_WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")


class AgentRelease(SQLModel, table=True):
    __tablename__ = "agent_releases"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=32, unique=True, index=True)
    filename: str = Field(max_length=200)
    sha256: str = Field(max_length=64)
    size: int
    signature: str = Field(default="", max_length=2000)  # detached, base64; optional
    notes: str = Field(default="", max_length=2000)
    uploaded_at: datetime = Field(default_factory=utcnow)
    uploaded_by: str = Field(default="", max_length=100)


class RolloutWave(SQLModel, table=True):
    __tablename__ = "rollout_waves"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="agent_releases.id", index=True)
    number: int
    name: str = Field(default="", max_length=200)
    opens_at: datetime
    created_at: datetime = Field(default_factory=utcnow)


class RolloutWaveSite(SQLModel, table=True):
    """District membership of a wave."""

    __tablename__ = "rollout_wave_sites"

    wave_id: int = Field(foreign_key="rollout_waves.id", primary_key=True)
    site_id: int = Field(foreign_key="sites.id", primary_key=True, index=True)


# --- pure helpers --------------------------------------------------------------------


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def packages_dir(data_dir: Path) -> Path:
    return data_dir / "agent-packages"


def offer_for(engine: sa.Engine, site_code: str, running: str, now: datetime) -> dict[str, Any] | None:
    """The newest release of an open wave that includes the site and is newer than ``running``."""
    have = _version(running)
    with session_scope(engine) as session:
        rows = session.exec(
            select(AgentRelease, RolloutWave)
            .join(RolloutWave, RolloutWave.release_id == AgentRelease.id)  # type: ignore[arg-type]
            .join(RolloutWaveSite, RolloutWaveSite.wave_id == RolloutWave.id)  # type: ignore[arg-type]
            .join(Site, Site.id == RolloutWaveSite.site_id)  # type: ignore[arg-type]
            .where(Site.code == site_code, RolloutWave.opens_at <= now)
        ).all()
    best: tuple[Version, AgentRelease, RolloutWave] | None = None
    for release, wave in rows:
        v = _version(release.version)
        if v is None or (have is not None and v <= have):
            continue
        if best is None or v > best[0]:
            best = (v, release, wave)
    if best is None:
        return None
    _, release, wave = best
    return {
        "version": release.version,
        "sha256": release.sha256,
        "size": release.size,
        "signature": release.signature,
        "filename": release.filename,
        "url": f"/agent/updates/{release.version}/package",
        "wave": wave.number,
    }


def wave_progress(engine: sa.Engine, now: datetime, online: set[str]) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        waves = session.exec(select(RolloutWave).order_by(col(RolloutWave.number), col(RolloutWave.id))).all()
        out: list[dict[str, Any]] = []
        for wave in waves:
            release = session.get(AgentRelease, wave.release_id)
            assert release is not None
            target = _version(release.version)
            rows = session.exec(
                select(Site, Agent)
                .join(RolloutWaveSite, RolloutWaveSite.site_id == Site.id)  # type: ignore[arg-type]
                .join(Agent, Agent.site_id == Site.id, isouter=True)  # type: ignore[arg-type]
                .where(RolloutWaveSite.wave_id == wave.id)
                .order_by(col(Site.code))
            ).all()
            sites = []
            for site, agent in rows:
                have = _version(agent.version) if agent is not None else None
                sites.append(
                    {
                        "code": site.code,
                        "name_th": site.name_th,
                        "name_en": site.name_en,
                        "version": agent.version if agent is not None else "",
                        "updated": bool(have is not None and target is not None and have >= target),
                        "online": site.code in online,
                    }
                )
            done = sum(1 for s in sites if s["updated"])
            out.append(
                {
                    "id": wave.id,
                    "number": wave.number,
                    "name": wave.name,
                    "release": release.version,
                    "opens_at": wave.opens_at.isoformat(),
                    "open": wave.opens_at <= now,
                    "total": len(sites),
                    "updated": done,
                    "percent": round(100.0 * done / len(sites), 1) if sites else 0.0,
                    "sites": sites,
                }
            )
        return out


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


async def upload_release(request: web.Request) -> web.Response:
    """Multipart: ``file`` (the wheel), ``version``, optional ``sha256`` (checked), ``signature``, ``notes``."""
    principal = await require_role(request, "admin")
    settings, engine = request.app[SETTINGS], request.app[ENGINE]
    limit = settings.agent_package_max_bytes
    declared = request.content_length
    if declared is not None and declared > limit + 64 * 1024:  # multipart framing on top of the file
        raise _too_large("package", limit, declared)
    if not request.content_type.startswith("multipart/"):
        raise json_error(400, "send multipart/form-data with a 'file' part")
    fields: dict[str, str] = {}
    digest = hashlib.sha256()
    size = 0
    filename = ""
    target_dir = packages_dir(settings.data_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(dir=target_dir, suffix=".part")[1])
    try:
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
        version = fields.get("version", "").strip()
        if _version(version) is None:
            raise json_error(400, f"'version' must be a PEP 440 version, got {version!r}")
        if not filename or not _WHEEL_NAME.match(filename) or size == 0:
            raise json_error(400, "'file' must be a non-empty .whl")
        sha = digest.hexdigest()
        claimed = fields.get("sha256", "").strip().lower()
        if claimed and claimed != sha:
            raise json_error(400, "sha256 does not match the uploaded file", sha256=sha)
        final = target_dir / f"{version}-{sha[:12]}.whl"

        def store() -> AgentRelease:
            with session_scope(engine) as session:
                if session.exec(select(AgentRelease).where(AgentRelease.version == version)).first():
                    raise json_error(409, f"version {version} is already published")
                tmp.replace(final)
                row = AgentRelease(
                    version=version, filename=filename, sha256=sha, size=size,
                    signature=fields.get("signature", ""), notes=fields.get("notes", ""),
                    uploaded_by=principal.username,
                )
                session.add(row)
                session.flush()
                session.refresh(row)
                return row

        row = await asyncio.to_thread(store)
    finally:
        await asyncio.to_thread(tmp.unlink, True)
    await audit.arecord(
        engine, actor=principal.actor, action="agent_release.publish", target=version,
        ip=client_ip(request), detail={"sha256": sha, "size": size, "filename": filename},
    )
    return web.json_response(_release_dict(row), status=201)


def _release_dict(row: AgentRelease) -> dict[str, Any]:
    return {
        "version": row.version, "filename": row.filename, "sha256": row.sha256, "size": row.size,
        "signed": bool(row.signature), "notes": row.notes, "uploaded_at": row.uploaded_at.isoformat(),
        "uploaded_by": row.uploaded_by,
    }


async def list_releases(request: web.Request) -> web.Response:
    await require_role(request, "viewer")

    def read() -> list[dict[str, Any]]:
        with session_scope(request.app[ENGINE]) as session:
            rows = session.exec(select(AgentRelease)).all()
        rows = sorted(rows, key=lambda r: _version(r.version) or Version("0"), reverse=True)
        return [_release_dict(r) for r in rows]

    return web.json_response(await asyncio.to_thread(read))


def _package_path(request: web.Request, release: AgentRelease) -> Path:
    return packages_dir(request.app[SETTINGS].data_dir) / f"{release.version}-{release.sha256[:12]}.whl"


def _release(engine: sa.Engine, version: str | None) -> AgentRelease | None:
    with session_scope(engine) as session:
        if version is not None:
            return session.exec(select(AgentRelease).where(AgentRelease.version == version)).first()
        rows = session.exec(select(AgentRelease)).all()
    return max(rows, key=lambda r: _version(r.version) or Version("0"), default=None)


async def download_package(request: web.Request) -> web.StreamResponse:
    site = await require_site(request)
    release = await asyncio.to_thread(_release, request.app[ENGINE], request.match_info["version"])
    if release is None:
        raise json_error(404, "no such agent version")
    log.info("site %s downloads agent %s", site.code, release.version)
    return web.FileResponse(
        _package_path(request, release),
        headers={"Content-Disposition": f'attachment; filename="{release.filename}"', "X-SHA256": release.sha256},
    )


async def download_latest(request: web.Request) -> web.StreamResponse:
    """The newest wheel, for the manual install an ``update_required`` message points to.

    Public on purpose: an agent too old to talk to the hub must still be able
    to fetch its replacement; the package holds no secret.
    """
    release = await asyncio.to_thread(_release, request.app[ENGINE], None)
    if release is None:
        raise json_error(404, "no agent version has been published yet")
    return web.FileResponse(
        _package_path(request, release),
        headers={"Content-Disposition": f'attachment; filename="{release.filename}"', "X-SHA256": release.sha256},
    )


async def check_update(request: web.Request) -> web.Response:
    site = await require_site(request)
    running = request.query.get("version", "")
    offer = await asyncio.to_thread(offer_for, request.app[ENGINE], site.code, running, utcnow())
    return web.json_response({"site": site.code, "running": running, "offer": offer})


async def create_wave(request: web.Request) -> web.Response:
    principal = await require_role(request, "admin")
    engine = request.app[ENGINE]
    body = await read_json(request, WaveIn)

    def store() -> int:
        with session_scope(engine) as session:
            release = session.exec(select(AgentRelease).where(AgentRelease.version == body.release)).first()
            if release is None or release.id is None:
                raise json_error(400, f"release {body.release} is not published")
            sites = session.exec(select(Site).where(col(Site.code).in_(body.sites))).all()
            unknown = sorted(set(body.sites) - {s.code for s in sites})
            if unknown:
                raise json_error(400, "unknown site codes", unknown=unknown)
            wave = RolloutWave(release_id=release.id, number=body.number, name=body.name, opens_at=body.opens_at)
            session.add(wave)
            session.flush()
            assert wave.id is not None
            for s in sites:
                assert s.id is not None
                session.add(RolloutWaveSite(wave_id=wave.id, site_id=s.id))
            return wave.id

    wave_id = await asyncio.to_thread(store)
    await audit.arecord(
        engine, actor=principal.actor, action="agent_wave.create", target=f"wave {body.number}",
        ip=client_ip(request),
        detail={"release": body.release, "opens_at": body.opens_at.isoformat(), "sites": body.sites},
    )
    nudged = 0
    if body.opens_at <= utcnow():
        nudged = await nudge(request.app, body.sites)
    return web.json_response({"id": wave_id, "nudged": nudged}, status=201)


async def list_waves(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    online = set(request.app[REGISTRY].online_codes())
    data = await asyncio.to_thread(wave_progress, request.app[ENGINE], utcnow(), online)
    return web.json_response(data)


async def nudge(app: web.Application, codes: list[str]) -> int:
    """Ask online agents of an open wave to check for their update now."""
    registry = app[REGISTRY]
    with contextlib.suppress(AgentOffline):
        return await registry.broadcast(p.UpdateCheck(), codes=codes)
    return 0


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


async def _open_wave_watcher(app: web.Application) -> AsyncIterator[None]:
    """Nudge a wave's online agents when its opening time passes (checked each minute)."""
    engine = app[ENGINE]
    seen: set[int] = set()

    def newly_open() -> list[tuple[int, list[str]]]:
        with session_scope(engine) as session:
            waves = session.exec(select(RolloutWave).where(RolloutWave.opens_at <= utcnow())).all()
            out = []
            for w in waves:
                if w.id is None or w.id in seen:
                    continue
                codes = session.exec(
                    select(Site.code).join(RolloutWaveSite, RolloutWaveSite.site_id == Site.id)  # type: ignore[arg-type]
                    .where(RolloutWaveSite.wave_id == w.id)
                ).all()
                out.append((w.id, list(codes)))
            return out

    async def loop() -> None:
        # Waves already open at start were handled before; agents check on connect anyway.
        seen.update(w for w, _ in await asyncio.to_thread(newly_open))
        while True:
            await asyncio.sleep(60)
            try:
                for wave_id, codes in await asyncio.to_thread(newly_open):
                    seen.add(wave_id)
                    await nudge(app, codes)
            except Exception:
                log.exception("wave watcher failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# Latest self-test each agent pushed (SelfTestReport): the clerk's own runs between readiness checks.
SELFTESTS = web.AppKey("selftests", dict)


async def list_selftests(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(request.app[SELFTESTS])


def _selftest_intake(app: web.Application) -> Any:
    async def on_report(site: str, msg: Any) -> None:
        entry = {
            "site": site, "ready": msg.ready, "reasons": list(msg.reasons), "checks": list(msg.checks),
            "trigger": msg.trigger, "measured_at": msg.measured_at,
        }
        app[SELFTESTS][site] = entry
        app[EVENTS].publish("selftest", entry)

    return on_report


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/agent-versions", list_releases)
    app.router.add_post("/api/v1/agent-versions", upload_release)
    app.router.add_get("/api/v1/agent-versions/latest", download_latest)
    app.router.add_get("/api/v1/agent-waves", list_waves)
    app.router.add_post("/api/v1/agent-waves", create_wave)
    # Agent-facing: site-token headers, no session.
    app.router.add_get("/agent/updates/check", check_update)
    app.router.add_get("/agent/updates/{version}/package", download_package)
    app.router.add_post("/agent/logs", upload_logs)
    app[SELFTESTS] = {}
    app.router.add_get("/api/v1/selftests", list_selftests)
    app[REGISTRY].add_message_handler("selftest_report", _selftest_intake(app))
    app.cleanup_ctx.append(_open_wave_watcher)
