"""Content fixtures: a ContentService on a real database and EventBus, and hub settings sized for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.content.service import ContentService
from hub.events import EventBus
from hub.settings import Settings

# A small tile keeps rendering cheap on a shared two-core machine; the geometry is the same.
TILE_W, TILE_H = 480, 270
UPLOAD_LIMIT = 2 * 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Overrides the suite's fixture for this folder, so the `hub` fixture runs with these too.
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                    content_page_width=TILE_W, content_page_height=TILE_H,
                    content_max_upload_bytes=UPLOAD_LIMIT, content_convert_timeout_s=60)


@pytest.fixture
async def content(settings: Settings, engine: sa.Engine) -> AsyncIterator[ContentService]:
    service = ContentService(settings, engine, EventBus())
    yield service
    await service.close()
