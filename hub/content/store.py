"""Content tables: the library (every upload, with its SHA-256) and the show log.

The library is kept per conference and per briefing series: what was shown
at a briefing stays findable afterwards, with the hash that proves which
file it was. Pages are files under the content directory; rows hold their
paths relative to it, so the directory can move.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select

from hub.db import session_scope
from hub.models import utcnow


class ContentItem(SQLModel, table=True):
    __tablename__ = "content_items"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int | None = Field(default=None, index=True)
    series_id: int | None = Field(default=None, index=True)
    original_name: str = Field(max_length=200)
    kind: str = Field(max_length=8)
    sha256: str = Field(max_length=64, index=True)
    size: int
    status: str = Field(default="converting", max_length=16, index=True)  # converting | ready | failed
    error_code: str = Field(default="", max_length=32)
    error: str = Field(default="", max_length=500)
    page_count: int = 0
    page_width: int = 0
    page_height: int = 0
    # Paths relative to the content directory: one PNG per page (a clip: its poster).
    pages: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    original_path: str = Field(default="", max_length=300)
    duration_s: float = 0.0
    media: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    uploaded_by: str = Field(default="", max_length=100)
    uploaded_at: datetime = Field(default_factory=utcnow)
    converted_at: datetime | None = None


class ContentShow(SQLModel, table=True):
    """One stretch of one page on screen: from when it came up to when it left."""

    __tablename__ = "content_shows"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    item_id: int = Field(foreign_key="content_items.id", index=True)
    page: int
    shown_by: str = Field(default="", max_length=100)
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


def add_item(engine: sa.Engine, item: ContentItem) -> ContentItem:
    with session_scope(engine) as session:
        session.add(item)
        session.flush()
        session.refresh(item)
        return item


def get_item(engine: sa.Engine, item_id: int) -> ContentItem | None:
    with session_scope(engine) as session:
        return session.get(ContentItem, item_id)


def update_item(engine: sa.Engine, item_id: int, **values: Any) -> ContentItem | None:
    with session_scope(engine) as session:
        item = session.get(ContentItem, item_id)
        if item is None:
            return None
        for key, value in values.items():
            setattr(item, key, value)
        session.add(item)
        session.flush()
        session.refresh(item)
        return item


def ready_twin(engine: sa.Engine, sha256: str, width: int, height: int) -> ContentItem | None:
    """A converted item with the same bytes and page size: its pages can be reused as they are."""
    with session_scope(engine) as session:
        return session.exec(
            select(ContentItem)
            .where(ContentItem.sha256 == sha256, ContentItem.status == "ready",
                   ContentItem.page_width == width, ContentItem.page_height == height)
            .order_by(col(ContentItem.id))
        ).first()


def items_with_sha(engine: sa.Engine, sha256: str) -> list[ContentItem]:
    with session_scope(engine) as session:
        return list(session.exec(select(ContentItem).where(ContentItem.sha256 == sha256)))


def library(
    engine: sa.Engine, *, conference_id: int | None = None, series_id: int | None = None
) -> list[ContentItem]:
    """Items of a conference, of a series, or of either (newest first)."""
    with session_scope(engine) as session:
        query = select(ContentItem).order_by(col(ContentItem.id).desc())
        where = []
        if conference_id is not None:
            where.append(col(ContentItem.conference_id) == conference_id)
        if series_id is not None:
            where.append(col(ContentItem.series_id) == series_id)
        if where:
            query = query.where(sa.or_(*where))
        return list(session.exec(query))


def log_page(engine: sa.Engine, conference_id: int, item_id: int | None, page: int, actor: str) -> None:
    """Close what was on screen and, unless ``item_id`` is None (content ended), open the new page."""
    now = utcnow()
    with session_scope(engine) as session:
        for row in session.exec(
            select(ContentShow).where(ContentShow.conference_id == conference_id,
                                      col(ContentShow.ended_at).is_(None))
        ):
            row.ended_at = now
            session.add(row)
        if item_id is not None:
            session.add(ContentShow(conference_id=conference_id, item_id=item_id, page=page,
                                    shown_by=actor[:100], started_at=now))


def show_log(engine: sa.Engine, conference_id: int) -> list[ContentShow]:
    with session_scope(engine) as session:
        return list(session.exec(
            select(ContentShow).where(ContentShow.conference_id == conference_id)
            .order_by(col(ContentShow.id))
        ))
