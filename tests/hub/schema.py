"""Compare a live database with the models, ignoring tables we do not model."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import hub.tables  # noqa: F401


def schema_diff(engine: sa.Engine) -> list[Any]:
    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        return type_ != "table" or name in SQLModel.metadata.tables

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": include_name})
        return list(compare_metadata(ctx, SQLModel.metadata))
