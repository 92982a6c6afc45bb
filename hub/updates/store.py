"""The updates room's tables and queries: published agent releases, rollout waves and
their districts; the wheels themselves are files under the data directory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select

from hub.control.store import Agent
from hub.db import session_scope
from hub.models import Site, utcnow
from hub.updates.model import is_updated, newest_offer, percent, sort_key


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


class ReleaseExists(Exception):
    """That version is already published."""


class UnknownRelease(Exception):
    """A wave names a release that is not published."""


class UnknownSites(Exception):
    def __init__(self, codes: list[str]) -> None:
        super().__init__(", ".join(codes))
        self.codes = codes


def packages_dir(data_dir: Path) -> Path:
    return data_dir / "agent-packages"


def package_path(data_dir: Path, release: AgentRelease) -> Path:
    return packages_dir(data_dir) / f"{release.version}-{release.sha256[:12]}.whl"


def offer_for(engine: sa.Engine, site_code: str, running: str, now: datetime) -> dict[str, Any] | None:
    """The newest release of an open wave that includes the site and is newer than ``running``."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(AgentRelease, RolloutWave)
            .join(RolloutWave, RolloutWave.release_id == AgentRelease.id)  # type: ignore[arg-type]
            .join(RolloutWaveSite, RolloutWaveSite.wave_id == RolloutWave.id)  # type: ignore[arg-type]
            .join(Site, Site.id == RolloutWaveSite.site_id)  # type: ignore[arg-type]
            .where(Site.code == site_code, RolloutWave.opens_at <= now)
        ).all()
    best = newest_offer(((release.version, (release, wave)) for release, wave in rows), running)
    if best is None:
        return None
    release, wave = best
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
            rows = session.exec(
                select(Site, Agent)
                .join(RolloutWaveSite, RolloutWaveSite.site_id == Site.id)  # type: ignore[arg-type]
                .join(Agent, Agent.site_id == Site.id, isouter=True)  # type: ignore[arg-type]
                .where(RolloutWaveSite.wave_id == wave.id)
                .order_by(col(Site.code))
            ).all()
            sites = [
                {
                    "code": site.code,
                    "name_th": site.name_th,
                    "name_en": site.name_en,
                    "version": agent.version if agent is not None else "",
                    "updated": is_updated(agent.version if agent is not None else None, release.version),
                    "online": site.code in online,
                }
                for site, agent in rows
            ]
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
                    "percent": percent(done, len(sites)),
                    "sites": sites,
                }
            )
        return out


def release(engine: sa.Engine, version: str | None) -> AgentRelease | None:
    """The named release, or the newest one when ``version`` is None."""
    with session_scope(engine) as session:
        if version is not None:
            return session.exec(select(AgentRelease).where(AgentRelease.version == version)).first()
        rows = session.exec(select(AgentRelease)).all()
    return max(rows, key=lambda r: sort_key(r.version), default=None)


def releases(engine: sa.Engine) -> list[AgentRelease]:
    """Every published release, newest first."""
    with session_scope(engine) as session:
        rows = session.exec(select(AgentRelease)).all()
    return sorted(rows, key=lambda r: sort_key(r.version), reverse=True)


def add_release(engine: sa.Engine, row: AgentRelease, publish: Path, final: Path) -> AgentRelease:
    """Record a release and move its uploaded file into place, in one transaction.

    Raises :class:`ReleaseExists` (and leaves the file where it is) if the version is taken.
    """
    with session_scope(engine) as session:
        if session.exec(select(AgentRelease).where(AgentRelease.version == row.version)).first():
            raise ReleaseExists(row.version)
        publish.replace(final)
        session.add(row)
        session.flush()
        session.refresh(row)
        return row


def add_wave(engine: sa.Engine, version: str, number: int, name: str, opens_at: datetime,
             codes: list[str]) -> int:
    """A wave of ``codes`` for a published release; raises UnknownRelease / UnknownSites."""
    with session_scope(engine) as session:
        rel = session.exec(select(AgentRelease).where(AgentRelease.version == version)).first()
        if rel is None or rel.id is None:
            raise UnknownRelease(version)
        sites = session.exec(select(Site).where(col(Site.code).in_(codes))).all()
        unknown = sorted(set(codes) - {s.code for s in sites})
        if unknown:
            raise UnknownSites(unknown)
        wave = RolloutWave(release_id=rel.id, number=number, name=name, opens_at=opens_at)
        session.add(wave)
        session.flush()
        assert wave.id is not None
        for s in sites:
            assert s.id is not None
            session.add(RolloutWaveSite(wave_id=wave.id, site_id=s.id))
        return wave.id


def open_waves(engine: sa.Engine, now: datetime, seen: set[int]) -> list[tuple[int, list[str]]]:
    """Waves open at ``now`` and not in ``seen``, each with its district codes."""
    with session_scope(engine) as session:
        waves = session.exec(select(RolloutWave).where(RolloutWave.opens_at <= now)).all()
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
