"""``python -m hub evidence verify FILE``: is this the package the hub signed, and is the log it
points into still intact? Says valid, or names what changed: a damaged or altered file, the JSON
field that differs, a wrong signature, or the audit row edited or deleted since.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub import audit
from hub.db import session_scope
from hub.evidence import store
from hub.evidence.model import changed_fields, field_digests
from hub.evidence.service import DOCUMENT, MANIFEST, PUBLIC_KEY, SIGNATURE
from hub.evidence.signing import fingerprint, load_or_create_key, load_public_pem, signature_ok
from hub.settings import Settings


@dataclass
class EvidenceReport:
    problems: list[str] = field(default_factory=list)
    conference_id: int | None = None
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        if self.ok:
            return (f"หลักฐานถูกต้อง / evidence package valid: conference {self.conference_id}, {self.files} files, "
                    "signature, file hashes, fields and audit chain all check")
        return "หลักฐานไม่ถูกต้อง / evidence package NOT valid:\n" + "\n".join(f"  - {p}" for p in self.problems)


def _read_members(data: bytes, report: EvidenceReport) -> dict[str, bytes] | None:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        report.problems.append(f"ไฟล์เสียหาย / the package is not a readable zip ({exc})")
        return None
    members: dict[str, bytes] = {}
    with z:
        for name in z.namelist():
            try:
                members[name] = z.read(name)
            except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
                report.problems.append(f"{name}: ถูกแก้ไขหรือเสียหาย / changed or damaged ({exc})")
    return members


def verify_bytes(data: bytes, hub_key: Ed25519PublicKey, engine: sa.Engine | None) -> EvidenceReport:
    report = EvidenceReport()
    members = _read_members(data, report)
    if members is None:
        return report
    manifest_bytes = members.get(MANIFEST)
    if manifest_bytes is None:
        report.problems.append(f"{MANIFEST}: ไม่มี / missing")
        return report
    try:
        manifest: dict[str, Any] = json.loads(manifest_bytes)
        signature = base64.b64decode(members.get(SIGNATURE, b"").strip(), validate=True)
    except (ValueError, binascii.Error) as exc:
        report.problems.append(f"{MANIFEST} / {SIGNATURE}: อ่านไม่ได้ / unreadable ({exc})")
        return report
    report.conference_id = manifest.get("conference_id")

    # 1. The signature, with the hub's own key (a key shipped inside the package proves nothing).
    embedded = members.get(PUBLIC_KEY)
    if embedded is not None:
        try:
            if fingerprint(load_public_pem(embedded)) != fingerprint(hub_key):
                report.problems.append(f"{PUBLIC_KEY}: ไม่ใช่กุญแจของศาลากลางนี้ / not this hub's key")
        except ValueError:
            report.problems.append(f"{PUBLIC_KEY}: อ่านไม่ได้ / unreadable")
    if not signature_ok(hub_key, signature, manifest_bytes):
        report.problems.append(f"{SIGNATURE}: ลายมือชื่อไม่ถูกต้อง / wrong signature — {MANIFEST} was changed "
                               "or the package was not signed by this hub")

    # 2. Every file against the manifest; the JSON field by field.
    listed: dict[str, Any] = manifest.get("files", {})
    for name, meta in sorted(listed.items()):
        content = members.get(name)
        if content is None:
            if not any(p.startswith(f"{name}:") for p in report.problems):
                report.problems.append(f"{name}: ไม่มีในแพ็กเกจ / missing from the package")
            continue
        if hashlib.sha256(content).hexdigest() != meta.get("sha256"):
            where = ""
            if name == DOCUMENT:
                try:
                    fields = changed_fields(manifest.get("fields", {}), field_digests(json.loads(content)))
                    where = ": field " + ", ".join(fields[:10]) + (" …" if len(fields) > 10 else "")
                except ValueError:
                    where = ": not JSON any more"
            report.problems.append(f"{name}: ถูกแก้ไข / changed{where}")
    for name in sorted(set(members) - set(listed) - {MANIFEST, SIGNATURE, PUBLIC_KEY, "README.txt"}):
        report.problems.append(f"{name}: ไฟล์เกินมา / not in the manifest")
    report.files = len(members)

    if engine is None:
        return report
    # 3. The package as stored when it was built (any byte of the zip).
    with session_scope(engine) as s:
        stored = store.package_by_manifest(s, hashlib.sha256(manifest_bytes).hexdigest())
    if stored is None:
        report.problems.append("ไม่พบในทะเบียนหลักฐาน / no package with this manifest was built by this hub")
    elif stored.sha256 != hashlib.sha256(data).hexdigest():
        report.problems.append(f"package bytes differ from the SHA-256 stored at build ({stored.sha256[:16]}…)")

    # 4. The audit chain it points into.
    chain = audit.verify(engine)
    if not chain.ok:
        report.problems.append(f"audit: {chain.problem}")
    head = manifest.get("audit_head", {})
    link = audit.link_at(engine, int(head.get("seq", 0))) if head.get("seq") else None
    if head.get("seq") and (link is None or link.hash != head.get("hash")):
        report.problems.append(f"audit: the chain head recorded in the package (seq {head.get('seq')}) is gone or "
                               "changed in the hub's log")
    if members.get(DOCUMENT) is not None:
        try:
            events = json.loads(members[DOCUMENT]).get("audit", {}).get("events", [])
        except ValueError:
            events = []
        for e in events:
            row = audit.link_at(engine, int(e["seq"]))
            if row is None:
                report.problems.append(f"audit: row seq {e['seq']} ({e.get('action')}) in the package was deleted "
                                       "from the hub's log")
                break
            if row.hash != e.get("hash"):
                report.problems.append(f"audit: row seq {e['seq']} ({e.get('action')}) differs from the package")
                break
    return report


def verify_file(engine: sa.Engine | None, settings: Settings, path: str | Path) -> EvidenceReport:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return EvidenceReport([f"อ่านไฟล์ไม่ได้ / cannot read {path}: {exc.strerror}"])
    hub_key = load_or_create_key(settings.data_dir).public_key()
    return verify_bytes(data, hub_key, engine)
