"""The audit log is a hash chain: edits and deletions are found and named."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from hub import audit
from hub.db import alembic_config, create_db_engine, migrate
from hub.settings import Settings
from tests.conftest import python_module
from tests.hub.test_postgres import postgres_url  # noqa: F401  (fixture: a real PostgreSQL)


def _fill(engine: sa.Engine, n: int) -> None:
    for i in range(n):
        audit.record(engine, actor="operator:somchai", action="layout.set", target="conference:1",
                     detail={"layout": "4x5", "i": i, "ชื่อ": "อำเภอเมือง"})


def test_a_fresh_chain_verifies(engine: sa.Engine) -> None:
    _fill(engine, 10)
    report = audit.verify(engine)
    assert report.ok, report.problem
    assert report.rows == report.head_seq >= 10
    assert audit.head(engine) == (report.head_seq, report.head_hash)


def test_an_edited_row_is_named(engine: sa.Engine) -> None:
    _fill(engine, 10)
    seq = audit.head(engine)[0] - 4
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET actor = 'operator:mallory' WHERE seq = :s"), {"s": seq})
    report = audit.verify(engine)
    assert not report.ok and report.problem_seq == seq
    assert f"seq {seq}" in report.problem and "edited" in report.problem


def test_a_deleted_row_is_a_named_gap(engine: sa.Engine) -> None:
    _fill(engine, 10)
    seq = audit.head(engine)[0] - 3
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})
    report = audit.verify(engine)
    assert not report.ok and report.problem_seq == seq
    assert f"seq {seq} missing" in report.problem


def test_a_deleted_last_row_is_found_from_the_head(engine: sa.Engine) -> None:
    _fill(engine, 5)
    last = audit.head(engine)[0]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq = :s"), {"s": last})
    report = audit.verify(engine)
    assert not report.ok and "at the end" in report.problem and f"seq {last}" in report.problem


def test_rows_written_before_the_chain_are_chained_by_the_migration(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        for i in range(3):
            conn.execute(sa.text(
                "INSERT INTO audit_events (at, actor, action, target, ok, ip, detail) "
                "VALUES (:at, 'system', 'login.ok', 'x', 1, '', :detail)"),
                {"at": f"2026-11-20 01:00:0{i}.000000", "detail": f'{{"n": {i}}}'})
    migrate(engine)
    assert audit.head(engine)[0] == 3
    audit.record(engine, actor="system", action="after", target="x")
    report = audit.verify(engine)
    assert report.ok and report.rows == 4, report.problem


def _concurrent_appends(engine: sa.Engine, threads: int = 6, each: int = 25) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(each):
                audit.record(engine, actor=f"agent:T{k}", action="floor.request", target=f"t{k}", detail={"i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    report = audit.verify(engine)
    assert report.ok, report.problem
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM audit_events WHERE actor LIKE 'agent:T%'")).scalar()
    assert n == threads * each


def test_concurrent_appends_on_sqlite_keep_one_chain(engine: sa.Engine) -> None:
    _concurrent_appends(engine)


@pytest.mark.slow
def test_concurrent_appends_on_postgresql_keep_one_chain(postgres_url: str) -> None:  # noqa: F811
    engine = create_db_engine(postgres_url)
    migrate(engine)
    try:
        _concurrent_appends(engine)
    finally:
        engine.dispose()


def test_cli_says_valid_then_names_the_edit(settings: Settings, engine: sa.Engine) -> None:
    _fill(engine, 3)
    env = {"SALAKLANG_DATA_DIR": str(settings.data_dir)}
    ok = python_module("hub", "audit", "verify", env=env)
    assert ok.returncode == 0 and "audit chain valid" in ok.stdout, ok.stderr
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET detail = '{\"layout\": \"1+N\"}' WHERE seq = 2"))
    bad = python_module("hub", "audit", "verify", env=env)
    assert bad.returncode == 1 and "seq 2" in bad.stderr and "edited" in bad.stderr
