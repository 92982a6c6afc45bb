"""Evidence tables (migration 0134_evidence): the traffic log and the packages built.

``traffic_log``: one row per participant connection — join and leave on the
hub's clock, the clock's NTP state at each, source address, agent version or
browser, and a media-quality summary written at leave. ``evidence_packages``:
every package built, with its SHA-256, so a file shown later can be matched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.attendance.store import FloorInterval


class TrafficRecord(SQLModel, table=True):
    __tablename__ = "traffic_log"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    participant: str = Field(max_length=64)
    joined_at: datetime
    left_at: datetime | None = None
    close_reason: str = Field(default="", max_length=32)
    source_addr: str = Field(default="", max_length=64)
    client: str = Field(default="", max_length=300)  # "salaklang-agent 0.4.2" or a browser's User-Agent
    clock_at_join: str = Field(default="unknown", max_length=20)  # synchronized | not_synchronized | unknown
    clock_at_leave: str = Field(default="", max_length=20)
    clock_source: str = Field(default="unknown", max_length=16)
    quality: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class EvidencePackage(SQLModel, table=True):
    __tablename__ = "evidence_packages"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    built_at: datetime
    built_by: str = Field(default="", max_length=100)
    sha256: str = Field(max_length=64, index=True)  # of the whole zip
    manifest_sha256: str = Field(max_length=64, index=True)
    size: int
    path: str = Field(max_length=500)
    key_fingerprint: str = Field(max_length=64)
    audit_head_seq: int
    audit_head_hash: str = Field(max_length=64)


def open_connection(session: Session, conference_id: int, participant: str) -> TrafficRecord | None:
    return session.exec(select(TrafficRecord).where(
        TrafficRecord.conference_id == conference_id, TrafficRecord.participant == participant,
        col(TrafficRecord.left_at).is_(None)).order_by(col(TrafficRecord.id).desc())).first()


def traffic(session: Session, conference_id: int) -> list[TrafficRecord]:
    return list(session.exec(select(TrafficRecord).where(TrafficRecord.conference_id == conference_id)
                             .order_by(col(TrafficRecord.joined_at), col(TrafficRecord.id))))


def floors_for_conference(session: Session, conference_id: int) -> list[FloorInterval]:
    """The attendance room's floor intervals of one conference, oldest first (its readers go by time)."""
    return list(session.exec(select(FloorInterval).where(FloorInterval.conference_id == conference_id)
                             .order_by(col(FloorInterval.granted_at), col(FloorInterval.id))))


def latest_package(session: Session, conference_id: int) -> EvidencePackage | None:
    return session.exec(select(EvidencePackage).where(EvidencePackage.conference_id == conference_id)
                        .order_by(col(EvidencePackage.id).desc())).first()


def package_by_manifest(session: Session, manifest_sha256: str) -> EvidencePackage | None:
    return session.exec(select(EvidencePackage).where(EvidencePackage.manifest_sha256 == manifest_sha256)).first()
