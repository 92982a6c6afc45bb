"""Enrolment: a one-time code, typed at the district PC, becomes a site token.

Codes are short enough to read over the phone (10 characters from an
alphabet without look-alikes), single use and short-lived; only their
SHA-256 is stored. Site tokens are 256-bit random strings, also stored as
SHA-256: they are not human-chosen secrets, so a slow hash would only cost
CPU at every agent connect.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import col, select

from hub.control.store import Agent, EnrolmentCode
from hub.db import session_scope
from hub.models import Site, utcnow
from hub.web.auth import sha256_hex

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 10


class EnrolmentRefused(Exception):
    """``reason`` is machine-readable; the messages are for the clerk."""

    MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_code": (
            "รหัสลงทะเบียนไม่ถูกต้อง กรุณาตรวจสอบรหัสจากศาลากลางจังหวัดอีกครั้ง",
            "This enrolment code is not valid. Check the code the province gave you.",
        ),
        "code_used": (
            "รหัสลงทะเบียนนี้ถูกใช้ไปแล้ว กรุณาขอรหัสใหม่จากศาลากลางจังหวัด",
            "This enrolment code has already been used. Ask the province for a new one.",
        ),
        "code_expired": (
            "รหัสลงทะเบียนนี้หมดอายุแล้ว กรุณาขอรหัสใหม่จากศาลากลางจังหวัด",
            "This enrolment code has expired. Ask the province for a new one.",
        ),
        "site_inactive": (
            "อำเภอนี้ไม่ได้เปิดใช้งานในระบบ กรุณาติดต่อศาลากลางจังหวัด",
            "This district is not active. Call the province.",
        ),
    }

    def __init__(self, reason: str, site_code: str = "") -> None:
        self.reason = reason
        self.site_code = site_code
        self.message_th, self.message_en = self.MESSAGES[reason]
        super().__init__(self.message_en)


@dataclass(frozen=True)
class Enrolled:
    site_code: str
    name_th: str
    name_en: str
    token: str
    replaced_previous: bool


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def format_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def issue_code(engine: sa.Engine, site_code: str, ttl_s: int, created_by: str) -> tuple[str, Site]:
    """A fresh one-time code for a site; returns it formatted (XXXXX-XXXXX)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    with session_scope(engine) as session:
        site = session.exec(select(Site).where(Site.code == site_code)).first()
        if site is None or site.id is None:
            raise LookupError(f"no site with code {site_code!r}")
        if not site.active:
            raise EnrolmentRefused("site_inactive", site_code)
        session.add(
            EnrolmentCode(
                site_id=site.id,
                code_hash=sha256_hex(raw),
                expires_at=utcnow() + timedelta(seconds=ttl_s),
                created_by=created_by,
            )
        )
        return format_code(raw), site


def redeem_code(engine: sa.Engine, code: str, *, hostname: str = "", os_name: str = "") -> Enrolled:
    """Exchange a code for a site token. Raises :class:`EnrolmentRefused`."""
    digest = sha256_hex(normalise_code(code))
    with session_scope(engine) as session:
        now = utcnow()
        # Claim the code first, with a conditional update: of any number of parallel
        # redemptions exactly one changes the row (the database serialises the writers and
        # re-checks the WHERE), and a read-then-write race cannot hand out two tokens.
        # Writing first also takes SQLite's write lock before any read snapshot exists.
        claimed = session.connection().execute(
            sa.update(EnrolmentCode)
            .where(col(EnrolmentCode.code_hash) == digest, col(EnrolmentCode.used_at).is_(None),
                   col(EnrolmentCode.expires_at) > now)
            .values(used_at=now)
        ).rowcount == 1
        row = session.exec(select(EnrolmentCode).where(EnrolmentCode.code_hash == digest)).first()
        if row is None:
            raise EnrolmentRefused("unknown_code")
        site = session.get(Site, row.site_id)
        assert site is not None and site.id is not None
        if not claimed:
            expired = row.used_at is None and row.expires_at <= now
            raise EnrolmentRefused("code_expired" if expired else "code_used", site.code)
        if not site.active:
            raise EnrolmentRefused("site_inactive", site.code)  # rolls the claim back
        token = secrets.token_urlsafe(32)
        agent = session.exec(select(Agent).where(Agent.site_id == site.id)).first()
        replaced = agent is not None
        if agent is None:
            agent = Agent(site_id=site.id, token_hash=sha256_hex(token))
        agent.token_hash = sha256_hex(token)
        agent.enrolled_at = utcnow()
        agent.hostname = hostname[:255]
        agent.os = os_name[:64]
        session.add(agent)
        return Enrolled(site.code, site.name_th, site.name_en, token, replaced)


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    site: Site | None
    # When the token is valid for another site: which one (for the audit log).
    token_of: str = ""


def check_site_token(engine: sa.Engine, site_code: str, token: str) -> TokenCheck:
    digest = sha256_hex(token)
    with session_scope(engine) as session:
        row = session.exec(
            select(Agent, Site).join(Site, Site.id == Agent.site_id).where(Site.code == site_code)  # type: ignore[arg-type]
        ).first()
        if row is not None:
            agent, site = row
            if site.active and hmac.compare_digest(agent.token_hash, digest):
                return TokenCheck(True, site)
        other = session.exec(
            select(Site).join(Agent, Agent.site_id == Site.id).where(Agent.token_hash == digest)  # type: ignore[arg-type]
        ).first()
        return TokenCheck(False, None, other.code if other else "")
