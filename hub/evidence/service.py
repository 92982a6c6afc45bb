"""Building the evidence package of one briefing: collect, render, sign, store.

The package is a zip: ``evidence.json`` (what happened), ``evidence.pdf`` (the
same, in Thai), ``manifest.json`` (SHA-256 and size of each file, a digest of
every JSON field, the audit chain's head), ``signature.ed25519`` (the hub's
signature over the manifest's exact bytes) and ``public_key.pem``. The zip's
own SHA-256 is stored in ``evidence_packages``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hub import audit
from hub.attendance import store as attendance
from hub.attendance.model import REASON_LABELS
from hub.db import session_scope
from hub.evidence import store
from hub.evidence.clock import ClockState, ClockWatch
from hub.evidence.model import (
    FORMAT,
    Connection,
    FloorSpan,
    Span,
    field_digests,
    pair_connections,
    seconds,
    total_seconds,
)
from hub.evidence.pdf import render_pdf
from hub.evidence.signing import fingerprint, load_or_create_key, public_key_pem
from hub.identity import store as identity_store
from hub.identity.model import is_guest
from hub.identity.service import IdentityService
from hub.models import utcnow
from hub.polls.service import PollService
from hub.recording import store as recording_store

MANIFEST = "manifest.json"
SIGNATURE = "signature.ed25519"
PUBLIC_KEY = "public_key.pem"
DOCUMENT = "evidence.json"
PDF = "evidence.pdf"
README = (
    "หลักฐานการประชุมผ่านสื่ออิเล็กทรอนิกส์ (ลงนามด้วยกุญแจ Ed25519 ของศาลากลาง)\n"
    "Electronic meeting evidence, signed with the hub's Ed25519 key.\n"
    "signature.ed25519 is the base64 signature over the exact bytes of manifest.json;\n"
    "manifest.json lists the SHA-256 of every file and of every field of evidence.json.\n"
    "Check: python -m hub evidence verify THIS.zip\n"
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def connection_json(t: store.TrafficRecord | None) -> dict[str, Any]:
    """The traffic log's fields of the connection an interval happened on (none logged: unknown)."""
    if t is None:
        return {"source_addr": "", "client": "", "clock_at_join": "unknown", "clock_at_leave": None,
                "clock_source": "unknown", "quality": {}}
    return {"source_addr": t.source_addr, "client": t.client, "clock_at_join": t.clock_at_join,
            "clock_at_leave": t.clock_at_leave or None, "clock_source": t.clock_source, "quality": t.quality}


def guest_interval_json(t: store.TrafficRecord, occurrence_id: int | None) -> dict[str, Any]:
    """A guest's browser connection in the shape of an attendance interval.

    The conference manager records sites in hub.attendance; a guest's join and leave
    are in the traffic log only, so its row is the interval (``recorded_by`` says so).
    """
    opened = REASON_LABELS["joined"]
    closed = REASON_LABELS.get(t.close_reason, (t.close_reason, t.close_reason)) if t.close_reason else None
    return {
        "site": t.participant, "conference_id": t.conference_id, "occurrence_id": occurrence_id,
        "started_at": iso(t.joined_at), "ended_at": iso(t.left_at),
        "opened_reason": "joined", "closed_reason": t.close_reason or None,
        "opened_label_th": opened[0], "opened_label_en": opened[1],
        "closed_label_th": closed[0] if closed else None, "closed_label_en": closed[1] if closed else None,
    }


@dataclass(frozen=True)
class Built:
    path: Path
    data: bytes
    record: store.EvidencePackage
    document: dict[str, Any]


class EvidenceService:
    def __init__(self, engine: sa.Engine, data_dir: Path, identity: IdentityService, polls: PollService,
                 *, tz: str = "Asia/Bangkok",
                 clock: Callable[[], datetime] = utcnow, clock_state: Callable[[], ClockState] | None = None) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.identity = identity
        self.polls = polls
        self.tz = tz
        self.clock = clock
        self.clock_state = clock_state or ClockWatch().state

    # --- what happened -------------------------------------------------------------------------
    def document(self, conference_id: int) -> dict[str, Any]:
        roster = self.identity.roster(conference_id)
        now = self.clock()
        until = roster.ended_at or now
        key = load_or_create_key(self.data_dir)
        with session_scope(self.engine) as s:
            names = identity_store.site_names(s, list(roster.sites))
            traffic = store.traffic(s, conference_id)
            recordings = recording_store.evidence_entries(s, conference_id)  # file, SHA-256, duration (issue 14)
        people = self.identity.identities(conference_id)
        # Sites' join/leave intervals as the attendance room recorded them; the traffic
        # log adds what it alone knows (address, client, NTP state, media quality).
        rows = attendance.intervals_for_conference(self.engine, conference_id)
        site_spans = [Span(r.site_code, r.started_at, r.ended_at, r.opened_reason, r.closed_reason) for r in rows]
        site_conns = [Connection(t.id, t.participant, t.joined_at, t.left_at) for t in traffic
                      if t.id is not None and not is_guest(t.participant)]
        by_id = {t.id: t for t in traffic}
        guest_rows = [t for t in traffic if is_guest(t.participant)]
        present = total_seconds([*site_spans, *(Span(t.participant, t.joined_at, t.left_at) for t in guest_rows)],
                                until)
        intervals: dict[str, list[dict[str, Any]]] = {}
        for row, conn_id in zip(rows, pair_connections(site_spans, site_conns, until), strict=True):
            intervals.setdefault(row.site_code, []).append({
                **attendance.interval_json(row), **connection_json(by_id.get(conn_id)), "recorded_by": "attendance"})
        for t in guest_rows:
            intervals.setdefault(t.participant, []).append({
                **guest_interval_json(t, roster.occurrence_id), **connection_json(t), "recorded_by": "traffic_log"})

        participants = []
        for who in [*roster.sites, *roster.guests]:
            th, en = names.get(who, (who, who))
            ids = [p for p in people if p.participant == who]
            if is_guest(who) and ids:
                th = en = ids[0].name
            participants.append({
                "participant": who, "kind": "guest" if is_guest(who) else "site", "name_th": th, "name_en": en,
                "identities": [{"name": p.name, "position": p.position, "organisation": p.organisation,
                                "confirmed_at": iso(p.confirmed_at), "via": p.via, "roll_call": p.roll_call_id}
                               for p in ids],
                "intervals": intervals.get(who, []), "seconds_present": present.get(who, 0.0),
            })

        roll_calls = []
        for call in self.identity.roll_calls(conference_id):
            state = call.state(now)
            roll_calls.append({
                "id": call.id, "started_at": iso(call.started_at), "deadline": iso(call.deadline),
                "seconds": (call.deadline - call.started_at).total_seconds(),
                "answered": [{"participant": p, "at": iso(state.answered_at[p])} for p in state.answered],
                "missing": state.missing,
            })

        # Floor grants as the attendance room recorded them (grant → release, revoke or end).
        with session_scope(self.engine) as s:
            floors = store.floors_for_conference(s, conference_id)
        floor = [{"participant": f.site_code, "granted_at": iso(f.granted_at), "ended_at": iso(f.ended_at),
                  "granted_by": f.granted_by, "closed_reason": f.closed_reason,
                  "seconds": round(seconds(f.granted_at, f.ended_at, until), 3)} for f in floors]
        speaking = total_seconds([FloorSpan(f.site_code, f.granted_at, f.ended_at, f.granted_by, f.closed_reason)
                                  for f in floors], until)

        polls = []
        for v in self.polls.polls(conference_id):
            p = v.poll
            polls.append({
                "id": p.id, "question": p.spec.question, "options": list(p.spec.options),
                "ballot": p.spec.ballot.value, "unit": p.spec.unit.value, "created_by": p.created_by,
                "created_at": iso(p.created_at), "closes_at": iso(p.spec.closes_at), "ended_at": iso(v.ended_at),
                "counts": list(v.result.counts) if v.result else None, "voters": v.voters,
                "choices": [{"voter": w, "option": o, "at": iso(at)} for w, o, at in v.choices],
            })

        events = audit.events_for(self.engine, f"conference:{conference_id}")
        ended = [e for e in events if e.fields["action"] == "conference.ended"]
        if ended and ended[-1].seq is not None:
            # The chain's head at the briefing's end is the row that ended it; later rows
            # about the conference (a poll closed afterwards) are not part of the meeting.
            head_seq, head_hash = ended[-1].seq, ended[-1].hash
            events = [e for e in events if e.seq is not None and e.seq <= head_seq]
        else:
            head_seq, head_hash = audit.head(self.engine)
        return {
            "format": FORMAT,
            "meeting": {
                "conference_id": conference_id, "title": roster.title, "occurrence_id": roster.occurrence_id,
                "status": roster.status, "chair": roster.created_by, "started_at": iso(roster.started_at),
                "ended_at": iso(roster.ended_at), "built_at": iso(now),
                "confidential": self.identity.is_confidential(conference_id),
                "clock": self.clock_state().to_json(), "timezone": self.tz,
            },
            "participants": participants,
            "roll_calls": roll_calls,
            "floor": floor,
            "speaking_seconds": speaking,
            "polls": polls,
            "recordings": recordings,
            "audit": {
                "events": [{"seq": r.seq, "hash": r.hash, **{k: r.fields[k] for k in
                            ("at", "actor", "action", "target", "ok", "detail")}} for r in events],
                "head_at_end": {"seq": head_seq, "hash": head_hash},
            },
            "key_fingerprint": fingerprint(key),
        }

    # --- the package ----------------------------------------------------------------------------
    def build(self, conference_id: int, *, actor: str = "system") -> Built:
        doc = self.document(conference_id)
        key = load_or_create_key(self.data_dir)
        built_at = datetime.fromisoformat(doc["meeting"]["built_at"])
        body = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode()
        pdf = render_pdf(doc, self.tz)
        files = {DOCUMENT: body, PDF: pdf}
        manifest = {
            "format": FORMAT, "conference_id": conference_id, "built_at": doc["meeting"]["built_at"],
            "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in files.items()},
            "fields": field_digests(doc), "audit_head": doc["audit"]["head_at_end"],
            "key_fingerprint": fingerprint(key),
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        signature = base64.b64encode(key.sign(manifest_bytes)) + b"\n"
        data = _zip({MANIFEST: manifest_bytes, SIGNATURE: signature, PUBLIC_KEY: public_key_pem(key).encode(),
                     DOCUMENT: body, PDF: pdf, "README.txt": README.encode()}, built_at)
        folder = self.data_dir / "evidence"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"conference-{conference_id}-{built_at.strftime('%Y%m%dT%H%M%S%f')}.zip"
        path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        with session_scope(self.engine) as s:
            row = store.EvidencePackage(
                conference_id=conference_id, built_at=built_at, built_by=actor[:100], sha256=digest,
                manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), size=len(data), path=str(path),
                key_fingerprint=manifest["key_fingerprint"], audit_head_seq=manifest["audit_head"]["seq"],
                audit_head_hash=manifest["audit_head"]["hash"])
            s.add(row)
        audit.record(self.engine, actor=actor, action="evidence.built", target=f"evidence:{conference_id}",
                     detail={"sha256": digest, "audit_head": manifest["audit_head"]["seq"]})
        return Built(path, data, row, doc)

    def latest(self, conference_id: int) -> store.EvidencePackage | None:
        with session_scope(self.engine) as s:
            return store.latest_package(s, conference_id)


def _zip(files: dict[str, bytes], at: datetime) -> bytes:
    buf = io.BytesIO()
    stamp = at.timetuple()[:6]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
    return buf.getvalue()
