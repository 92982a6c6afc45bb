from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import Settings
from tests.hub.identity.briefing import quiet_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return quiet_settings(tmp_path)
