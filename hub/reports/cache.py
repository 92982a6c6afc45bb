"""Content-addressed cache of rendered report files (issue 13: a province's report in ≤ 0.5 s).

WeasyPrint lays out a province's 26-page PDF in ~3 s and matplotlib draws its
three charts (the HTML preview) in ~1 s; the same report asked for twice is
the same bytes, so the second time is a file read. Each artefact lives in
``<data_dir>/cache/reports/<sha256>.<format>``, the key being SHA-256 of

* the renderer: the source of the modules that turn a report into bytes
  (:data:`RENDERER_MODULES`) and the versions of WeasyPrint, openpyxl and
  matplotlib — so a change of code or library renders afresh, with no
  version number to remember to bump,
* the format, the language and the time zone,
* the report model's canonical JSON (every figure, name, rate and briefing;
  sorted keys, Decimals as text) — *without* ``generated_at``, the moment of
  the build, which would make every request a miss; a cached file carries
  the generation time of its first render, the moment those figures were
  first reported,
* the bytes of every file in ``templates/reports/``.

So any change in the figures (a late attendance interval, a tariff fixed in
the inventory) is a different key and a fresh render; nothing is ever stale,
and nothing needs invalidating.

Why it pays: a closed month's figures are frozen (the month-close snapshot of
p95 and median in ``report_link_months``; the attendance and floor records of
a finished month do not change), so the monthly job at 07:00 on the 1st
renders the month before first (PDF, XLSX, CSV for the mail, and the HTML
preview in the report language) and every later download of that month from
finance — the API, the Reports page, the CLI — is a cache hit.

Written atomically (a temporary file in the same directory, then
:func:`os.replace`): a reader sees the whole file or none. A missing or
unreadable file, or one whose bytes no longer match the SHA-256 kept beside
it (``<key>.<format>.sha256``), is rendered again and replaced. The
directory is bounded: beyond ``reports_cache_mb`` the least recently used
files (by modification time, refreshed on every hit) are deleted.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hub.paths import templates_dir
from hub.reports import model as m
from hub.reports import render

log = logging.getLogger("hub.reports.cache")

# The modules whose code decides a rendered file's bytes, and the libraries they drive.
RENDERER_MODULES = ("render.py", "pdf.py", "charts.py", "csvout.py", "xlsxout.py", "labels.py", "model.py")
RENDERER_LIBRARIES = ("weasyprint", "openpyxl", "matplotlib")
CACHED_FORMATS = frozenset({"pdf", "html", "xlsx"})  # CSV and JSON take milliseconds: rendered each time


def _plain(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, timedelta):
        return o.total_seconds()
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, set | frozenset):
        return sorted(o)
    raise TypeError(f"not in a report model: {type(o).__name__}")


def canonical_json(r: m.MonthlyReport) -> bytes:
    """Every figure of the report, in one stable byte string (``generated_at`` left out: module docstring)."""
    fields = {f.name: getattr(r, f.name) for f in dataclasses.fields(r) if f.name != "generated_at"}
    return json.dumps(fields, default=_plain, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def templates_digest(folder: Path | None = None) -> bytes:
    h = hashlib.sha256()
    root = folder or templates_dir() / "reports"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.digest()


def renderer_digest(folder: Path | None = None) -> bytes:
    """SHA-256 of the renderer modules' source and the rendering libraries' versions."""
    if folder is None:
        return _own_renderer_digest()
    h = hashlib.sha256()
    for name in RENDERER_MODULES:
        h.update(name.encode("utf-8") + b"\0" + (folder / name).read_bytes() + b"\0")
    for dist in RENDERER_LIBRARIES:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"{dist}=={version}".encode() + b"\0")
    return h.digest()


@functools.cache
def _own_renderer_digest() -> bytes:
    return renderer_digest(Path(__file__).parent)  # the running code cannot change under the process


_digests: dict[int, tuple[m.MonthlyReport, bytes]] = {}
_digests_lock = threading.Lock()


def model_digest(r: m.MonthlyReport) -> bytes:
    """SHA-256 of the report's canonical JSON, once per report object (the nation's is ~0.15 s to encode)."""
    with _digests_lock:
        hit = _digests.get(id(r))
    if hit is not None and hit[0] is r:
        return hit[1]
    digest = hashlib.sha256(canonical_json(r)).digest()
    with _digests_lock:
        if len(_digests) >= 4:  # the last few reports: one request's formats, the job's files
            _digests.pop(next(iter(_digests)))
        _digests[id(r)] = (r, digest)
    return digest


def cache_key(r: m.MonthlyReport, fmt: str, lang: str, tz: str) -> str:
    h = hashlib.sha256()
    h.update(renderer_digest())
    for part in (fmt, lang, tz):
        h.update(part.encode("utf-8") + b"\0")
    h.update(templates_digest())
    h.update(model_digest(r))
    return h.hexdigest()


class RenderCache:
    """Rendered files on disk by content key, with hit/miss counters for the Reports API's ``cache`` stats."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.renders = 0
        self.evictions = 0
        self.replaced = 0  # corrupt files rendered again
        self._lock = threading.Lock()  # counters and eviction; renders run in worker threads

    def path(self, key: str, fmt: str) -> Path:
        return self.folder / f"{key}.{fmt}"

    def _read(self, key: str, fmt: str) -> bytes | None:
        path = self.path(key, fmt)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            log.warning("report cache file %s unreadable: rendering again", path)
            return None
        # A truncated or altered file (disk full, a crash before os.replace of an older version) is a miss.
        sidecar = self.folder / f"{key}.{fmt}.sha256"
        try:
            expected = sidecar.read_text("ascii").strip()
        except OSError:
            expected = ""
        if hashlib.sha256(body).hexdigest() != expected:
            log.warning("report cache file %s does not match its digest: rendering again", path)
            with self._lock:
                self.replaced += 1
            return None
        os.utime(path)  # the eviction order is least recently used
        return body

    def _write(self, key: str, fmt: str, body: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for target, data in ((self.folder / f"{key}.{fmt}.sha256", hashlib.sha256(body).hexdigest().encode("ascii")),
                             (self.path(key, fmt), body)):
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=f".{fmt}")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        self._evict()

    def _evict(self) -> None:
        with self._lock:
            files = []
            for p in self.folder.iterdir():
                if p.name.startswith(".tmp-") or p.suffix == ".sha256":
                    continue
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime, p, st.st_size))
            total = sum(size for _, _, size in files)
            for _, p, size in sorted(files, key=lambda t: t[0]):
                if total <= self.max_bytes:
                    break
                p.unlink(missing_ok=True)
                Path(f"{p}.sha256").unlink(missing_ok=True)
                total -= size
                self.evictions += 1

    def get_or_render(self, key: str, fmt: str, render: Callable[[], bytes]) -> bytes:
        body = self._read(key, fmt)
        if body is not None:
            with self._lock:
                self.hits += 1
            return body
        with self._lock:
            self.misses += 1
        body = render()
        with self._lock:
            self.renders += 1
        try:
            self._write(key, fmt, body)
        except OSError:
            log.exception("report cache: could not store %s.%s (served uncached)", key, fmt)
        return body

    def used_bytes(self) -> int:
        total = 0
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                if p.suffix != ".sha256" and not p.name.startswith(".tmp-"):
                    try:
                        total += p.stat().st_size
                    except FileNotFoundError:
                        continue
        return total

    def stats(self) -> dict[str, int]:
        used = self.used_bytes()
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "renders": self.renders,
                    "evictions": self.evictions, "replaced": self.replaced, "bytes": used,
                    "max_bytes": self.max_bytes}


def render_cached(cache: RenderCache, r: m.MonthlyReport, fmt: str, lang: str,
                  tz: str = "Asia/Bangkok") -> tuple[bytes, str, str]:
    """:func:`hub.reports.render.render_monthly` through the cache for the slow formats."""
    if fmt not in CACHED_FORMATS:
        return render.render_monthly(r, fmt, lang, tz)
    key = cache_key(r, fmt, lang, tz)
    body = cache.get_or_render(key, fmt, lambda: render.render_monthly(r, fmt, lang, tz)[0])
    return body, render.MIME[fmt], render.filename(r, fmt)
