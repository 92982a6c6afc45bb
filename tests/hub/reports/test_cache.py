"""The render cache over a real hub: a second download is the same bytes from disk, new figures re-render."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from hub.attendance.store import AttendanceInterval
from hub.briefings.store import BriefingOccurrence
from hub.db import create_db_engine, migrate
from hub.reports import service
from hub.reports.cache import RenderCache
from tests.conftest import _ensure_accounts, start_hub
from tests.hub.reports.seed import SONGKRAN, local, seed, seeded_settings


async def _stats(http: aiohttp.ClientSession, hub: object) -> dict[str, int]:
    async with http.get(f"{hub.url}/api/v1/reports", headers=hub.auth("viewer")) as resp:  # type: ignore[attr-defined]
        assert resp.status == 200
        stats: dict[str, int] = (await resp.json())["cache"]
        return stats


@pytest.mark.slow
async def test_second_download_is_a_cache_hit_and_new_figures_render_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = seeded_settings(tmp_path, media_enabled=False)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    seed(engine, settings, link=False)
    engine.dispose()
    monkeypatch.setattr(service, "utcnow", lambda: datetime(2018, 5, 10, tzinfo=UTC))
    folder = settings.data_dir / "cache" / "reports"
    hub = await start_hub(settings, tmp_path)
    try:
        await asyncio.to_thread(_ensure_accounts, hub)
        url = f"{hub.url}/api/v1/reports/monthly?month=2018-04&format=pdf&lang=th"
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers=hub.auth("viewer")) as resp:
                assert resp.status == 200
                first = await resp.read()
            assert first.startswith(b"%PDF")
            files = sorted(folder.glob("*.pdf"))
            assert len(files) == 1 and files[0].read_bytes() == first
            s = await _stats(http, hub)
            assert (s["hits"], s["misses"], s["renders"]) == (0, 1, 1)
            async with http.get(url, headers=hub.auth("viewer")) as resp:
                assert resp.status == 200 and resp.headers["Content-Type"] == "application/pdf"
                second = await resp.read()
            assert second == first
            s = await _stats(http, hub)
            assert (s["hits"], s["renders"]) == (1, 1)  # served from disk: WeasyPrint not called again

            # A district's interval recorded late (UDN09 was absent all April): new figures, a new file.
            with create_db_engine(settings.effective_database_url).begin() as c:
                occ = c.execute(sa.select(BriefingOccurrence.id).where(  # type: ignore[call-overload]
                    BriefingOccurrence.starts_at == local(SONGKRAN[0], 9))).scalar_one()
                c.execute(sa.insert(AttendanceInterval.__table__), [{  # type: ignore[attr-defined]
                    "conference_id": occ, "occurrence_id": occ, "site_code": "UDN09",
                    "started_at": local(SONGKRAN[0], 9), "ended_at": local(SONGKRAN[0], 9, 30),
                    "opened_reason": "joined", "closed_reason": "ended"}])
            async with http.get(url, headers=hub.auth("viewer")) as resp:
                third = await resp.read()
            assert third.startswith(b"%PDF") and third != first
            s = await _stats(http, hub)
            assert (s["hits"], s["renders"]) == (1, 2) and len(list(folder.glob("*.pdf"))) == 2

            # A corrupt cache file (truncated) is rendered again and replaced, never served.
            newest = max(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime)
            assert newest.read_bytes() == third
            newest.write_bytes(third[: len(third) // 2])
            async with http.get(url, headers=hub.auth("viewer")) as resp:
                fourth = await resp.read()
            s = await _stats(http, hub)
            assert (s["replaced"], s["renders"]) == (1, 3)
            assert newest.read_bytes() == fourth and fourth.startswith(b"%PDF") and fourth.rstrip().endswith(b"%%EOF")
            newest.unlink()  # missing: rendered again too
            async with http.get(url, headers=hub.auth("viewer")) as resp:
                assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")
            assert (await _stats(http, hub))["renders"] == 4 and newest.is_file()
            assert not list(folder.glob(".tmp-*"))
    finally:
        await hub.runner.cleanup()


def test_the_cap_evicts_the_least_recently_used(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "c", max_bytes=2500)
    calls: list[str] = []

    def body(name: str) -> bytes:
        calls.append(name)
        return name.encode() * 1000

    for key in ("a", "b"):
        assert cache.get_or_render(key, "pdf", functools.partial(body, key)) == key.encode() * 1000
    os.utime(cache.path("a", "pdf"), (1, 1))  # "a" is the oldest
    os.utime(cache.path("b", "pdf"), (2, 2))
    cache.get_or_render("c", "pdf", lambda: body("c"))  # 3000 bytes > 2500: the oldest go
    assert not cache.path("a", "pdf").exists() and not (tmp_path / "c" / "a.pdf.sha256").exists()
    assert cache.path("c", "pdf").exists()
    assert cache.stats()["evictions"] >= 1 and cache.stats()["bytes"] <= 2500
    cache.get_or_render("c", "pdf", lambda: body("c"))
    assert calls == ["a", "b", "c"] and cache.hits == 1


def test_a_renderer_code_change_is_a_new_key(tmp_path: Path) -> None:
    from hub.reports import cache as cache_module

    own = Path(cache_module.__file__).parent
    copy = tmp_path / "reports"
    copy.mkdir()
    for name in cache_module.RENDERER_MODULES:
        shutil.copy(own / name, copy / name)
    assert cache_module.renderer_digest(copy) == cache_module.renderer_digest()
    with (copy / "pdf.py").open("a", encoding="utf-8") as f:
        f.write("\n# a changed line of the PDF renderer\n")
    assert cache_module.renderer_digest(copy) != cache_module.renderer_digest()
