"""Audit log: who did what, when, from where — a hash chain, part of each meeting's evidence.

Every row carries the SHA-256 of its own fields (canonical JSON) chained to the
previous row's hash, so an edited row no longer matches its hash and a deleted
row breaks the chain (a gap in ``seq``, or a head that points past the last
row). The chain starts at :data:`GENESIS`; rows that existed before the chain
(migration 0131) were chained in id order at migration time.

Appends are serialised by the database, not by this process: the insert hook
first increments the single ``audit_chain_head`` row, which takes PostgreSQL's
row lock (held to commit) or SQLite's write lock, then reads the head, hashes
and writes. The hook runs for every ORM insert of :class:`AuditEvent`, so rows
written in another feature's own transaction (the conference manager writes its
state and its events together) are chained as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from hub.db import session_scope
from hub.models import AuditChainHead, AuditEvent

log = logging.getLogger("hub.audit")

# The stated start of the chain: the "previous hash" of the first row.
GENESIS = "0" * 64
HEAD_ID = 1

_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
_HEAD = AuditChainHead.__table__  # type: ignore[attr-defined]


# --- the chain's arithmetic (pure) -----------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8 (the hash input)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def normal_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """``detail`` as it will read back from the JSON column (string keys, JSON types), so the
    hash of what was written equals the hash of what is read."""
    value: dict[str, Any] = json.loads(json.dumps(detail or {}, default=str))
    return value


def stamp(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_fields(*, seq: int, at: datetime, actor: str, action: str, target: str, ok: bool, ip: str,
               detail: dict[str, Any]) -> dict[str, Any]:
    return {"seq": seq, "at": stamp(at), "actor": actor, "action": action, "target": target,
            "ok": bool(ok), "ip": ip, "detail": detail}


def link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({"prev": prev_hash, **fields})).hexdigest()


@dataclass(frozen=True)
class ChainRow:
    id: int
    seq: int | None
    prev_hash: str
    hash: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    problem: str = ""  # Thai / English, naming the first row edited or the gap
    problem_seq: int | None = None
    problem_id: int | None = None

    def text(self) -> str:
        if self.ok:
            return (f"ห่วงโซ่บันทึกตรวจสอบถูกต้อง / audit chain valid: {self.rows} rows, "
                    f"head seq {self.head_seq} {self.head_hash}")
        return self.problem


def _gap(a: int, b: int) -> str:
    return f"seq {a}" if a == b else f"seq {a}–{b}"


def verify_chain(rows: Iterable[ChainRow], head_seq: int, head_hash: str) -> ChainReport:
    """Walk rows in ``seq`` order; report the first edited row or missing stretch."""
    prev_hash, prev_seq, prev_id, count = GENESIS, 0, None, 0

    def bad(message: str, seq: int | None, row_id: int | None) -> ChainReport:
        return ChainReport(False, count, head_seq, head_hash, message, seq, row_id)

    for row in rows:
        if row.seq is None:
            return bad(f"แถว id {row.id} อยู่นอกห่วงโซ่ / audit row id {row.id} is not in the chain "
                       "(written around the audit module)", None, row.id)
        if row.seq != prev_seq + 1:
            where = f"after id {prev_id}" if prev_id is not None else "at the start"
            return bad(f"แถวถูกลบ / audit rows deleted: {_gap(prev_seq + 1, row.seq - 1)} missing "
                       f"({where}, before id {row.id})", prev_seq + 1, row.id)
        if link_hash(row.prev_hash, row.fields) != row.hash:
            return bad(f"แถวถูกแก้ไข / audit row seq {row.seq} (id {row.id}) was edited: its content no "
                       "longer matches its hash", row.seq, row.id)
        if row.prev_hash != prev_hash:
            return bad(f"ห่วงโซ่ขาด / audit row seq {row.seq} (id {row.id}) does not follow seq {prev_seq}: "
                       "the row before it was edited or replaced", row.seq, row.id)
        prev_hash, prev_seq, prev_id = row.hash, row.seq, row.id
        count += 1
    if head_seq != prev_seq or head_hash != prev_hash:
        if head_seq > prev_seq:
            return bad(f"แถวท้ายถูกลบ / audit rows deleted at the end: {_gap(prev_seq + 1, head_seq)} "
                       f"missing after id {prev_id}", prev_seq + 1, None)
        return bad(f"หัวห่วงโซ่ไม่ตรง / audit chain head (seq {head_seq}) does not match the last row "
                   f"(seq {prev_seq})", prev_seq, prev_id)
    return ChainReport(True, count, head_seq, head_hash)


# --- appending: the insert hook ---------------------------------------------------------------


@sa.event.listens_for(AuditEvent, "before_insert")
def _chain_on_insert(_mapper: Any, connection: sa.Connection, target: AuditEvent) -> None:
    # The UPDATE comes first: it takes the lock before the head is read.
    claimed = connection.execute(
        sa.update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(seq=_HEAD.c.seq + 1)
    ).rowcount
    if claimed != 1:
        raise RuntimeError("audit_chain_head is missing: run the migrations (0131_audit_chain)")
    seq, prev = connection.execute(sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)).one()
    if target.at is None:
        target.at = datetime.now(UTC)
    target.detail = normal_detail(target.detail)
    fields = row_fields(seq=seq, at=target.at, actor=target.actor, action=target.action,
                        target=target.target, ok=target.ok, ip=target.ip, detail=target.detail)
    target.seq, target.prev_hash, target.hash = seq, prev, link_hash(prev, fields)
    connection.execute(sa.update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(hash=target.hash))


def record(
    engine: sa.Engine,
    *,
    actor: str,
    action: str,
    target: str = "",
    ok: bool = True,
    ip: str = "",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    quiet: bool = False,
) -> None:
    """Append one event. ``quiet`` keeps it out of the log file (the row is the record):
    secret-ballot votes must not leave per-vote log lines a reader could line up."""
    event = AuditEvent(
        actor=actor[:100], action=action[:64], target=target[:200], ok=ok, ip=ip[:64],
        detail=detail or {},
    )
    if at is not None:
        event.at = at
    with session_scope(engine) as session:
        session.add(event)
    if not quiet:
        log.info("audit %s %s %s ok=%s", actor, action, target, ok)


async def arecord(engine: sa.Engine, **kwargs: Any) -> None:
    await asyncio.to_thread(record, engine, **kwargs)


def recent(
    engine: sa.Engine, *, limit: int = 100, action_prefix: str = "", target: str = ""
) -> list[AuditEvent]:
    with session_scope(engine) as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
        if action_prefix:
            query = query.where(col(AuditEvent.action).startswith(action_prefix))
        if target:
            query = query.where(AuditEvent.target == target)
        return list(session.exec(query))


# --- reading the chain ------------------------------------------------------------------------


def head(engine: sa.Engine) -> tuple[int, str]:
    """(seq, hash) of the newest link; (0, GENESIS) on an empty chain."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)


def _as_chain_row(r: Any) -> ChainRow:
    fields = row_fields(seq=r.seq or 0, at=r.at, actor=r.actor, action=r.action, target=r.target,
                        ok=r.ok, ip=r.ip, detail=r.detail or {})
    return ChainRow(r.id, r.seq, r.prev_hash, r.hash, fields)


def chain_rows(conn: sa.Connection, batch: int = 2000) -> Iterator[ChainRow]:
    # Unchained rows (seq NULL) sort first so they are reported, not skipped.
    query = sa.select(_AUDIT).order_by(_AUDIT.c.seq.is_not(None), _AUDIT.c.seq, _AUDIT.c.id)
    result = conn.execution_options(yield_per=batch).execute(query)
    for r in result:
        yield _as_chain_row(r)


def verify(engine: sa.Engine) -> ChainReport:
    """The whole chain, read in one transaction (a consistent snapshot)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)).first()
        seq, hash_ = (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)
        return verify_chain(chain_rows(conn), seq, hash_)


def link_at(engine: sa.Engine, seq: int) -> ChainRow | None:
    with engine.connect() as conn:
        r = conn.execute(sa.select(_AUDIT).where(_AUDIT.c.seq == seq)).first()
    return _as_chain_row(r) if r is not None else None


def events_for(engine: sa.Engine, target: str, start: datetime | None = None,
               end: datetime | None = None) -> list[ChainRow]:
    """Chained rows about ``target`` (``conference:7``) or anything under it (``conference:7/UDN01``),
    optionally within ``[start, end]``, in chain order."""
    t = _AUDIT.c.target
    query = sa.select(_AUDIT).where(sa.or_(t == target, t.startswith(target + "/", autoescape=True)))
    if start is not None:
        query = query.where(_AUDIT.c.at >= start)
    if end is not None:
        query = query.where(_AUDIT.c.at <= end)
    with engine.connect() as conn:
        return [_as_chain_row(r) for r in conn.execute(query.order_by(_AUDIT.c.seq))]
