"""The same migrations and enrolment flow on a real PostgreSQL started by the test."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.settings import Settings
from site_agent.enrol import EnrolFailed, enrol
from tests.conftest import free_port, start_hub
from tests.hub.schema import schema_diff


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL's {name} is missing: scripts/test installs the postgresql package"
    return found[-1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="salaklang-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, _pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "salaklang",
                    "--encoding", "UTF8", "--locale", "C"], check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*as_user, _pg_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            ready = subprocess.run([_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("PostgreSQL did not start")
        yield f"postgresql+psycopg://salaklang@127.0.0.1:{port}/postgres"
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
async def test_migrations_and_enrolment_on_postgresql(postgres_url: str, tmp_path: Path, run_agent: Any) -> None:
    settings = Settings(data_dir=tmp_path / "var", port=0, database_url=postgres_url)
    hub = await start_hub(settings, tmp_path)
    try:
        assert hub.engine.dialect.name == "postgresql"
        config = await hub.enrol_agent("UDN17")
        async with run_agent(config):
            assert hub.registry.is_online("UDN17")

        code = hub.issue_code("UDN01")
        await enrol(hub.url, code, tmp_path / "one")
        with pytest.raises(EnrolFailed, match="ถูกใช้ไปแล้ว"):
            await enrol(hub.url, code, tmp_path / "two")
        with hub.engine.connect() as conn:
            heads = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
        assert len(heads) >= 1 and all(heads)

        assert schema_diff(hub.engine) == []
    finally:
        await hub.runner.cleanup()


@pytest.mark.slow
def test_reports_on_postgresql_equal_the_same_month_on_sqlite(postgres_url: str, tmp_path: Path) -> None:
    """The reports' SQL (window functions, epoch arithmetic, rollup upserts) gives PostgreSQL the figures SQLite gives."""
    import sqlalchemy as sa

    from hub.db import create_db_engine, migrate
    from hub.reports import model as m
    from hub.reports.service import build_briefing, build_monthly, build_series
    from tests.hub.reports.seed import SONGKRAN, seed, seeded_settings

    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE reports")
    admin.dispose()
    now = datetime(2018, 6, 2, 3, 0, tzinfo=UTC)
    built: dict[str, tuple[Any, ...]] = {}
    for name, url in (("postgresql", postgres_url.rsplit("/", 1)[0] + "/reports"), ("sqlite", None)):
        settings = seeded_settings(tmp_path / name, **({"database_url": url} if url else {}))
        engine = create_db_engine(settings.effective_database_url)
        try:
            assert engine.dialect.name == name
            migrate(engine)
            seed(engine, settings)
            april = build_monthly(engine, settings, m.Month(2018, 4), now)
            may = build_monthly(engine, settings, m.Month(2018, 5), now)
            grid = build_series(engine, settings, SONGKRAN[0], SONGKRAN[-1], now)
            with engine.connect() as conn:
                first = conn.exec_driver_sql("SELECT min(id) FROM briefing_occurrences").scalar_one()
            built[name] = (april, may, grid, build_briefing(engine, settings, first))
        finally:
            engine.dispose()
    pg, lite = built["postgresql"], built["sqlite"]
    assert len(pg[0].lines) == 20 and pg[0].totals.scheduled > 0
    assert pg[0].totals == lite[0].totals
    assert pg[0].lines == lite[0].lines
    assert pg[1] == lite[1]
    assert pg[2] == lite[2]
    assert pg[3] == lite[3]
