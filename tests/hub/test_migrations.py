"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from hub.db import create_db_engine, migrate
from tests.hub.schema import schema_diff


def test_migrations_match_models(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    diff = schema_diff(engine)
    assert diff == [], f"models and migrations differ: {diff}"


def test_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
