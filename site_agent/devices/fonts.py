"""A Thai font for pictures the agent draws (the synthetic camera's slate).

The agent's own lookup: the agent never imports the hub (import-linter
contract ``agent-no-hub``), so it does not borrow the hub compositor's.
Pillow's raqm layout engine (libraqm) places Thai vowels and tone marks;
without it stacked marks collide, which is logged once.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont, features

log = logging.getLogger("site_agent.devices.fonts")

# fonts-thai-tlwg on Debian/Ubuntu (scripts/apt-packages.txt); Windows ships Leelawadee UI and Tahoma.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/tlwg/Laksaman.ttf",
    "/usr/share/fonts/opentype/tlwg/Laksaman.otf",
    "/usr/share/fonts/truetype/tlwg/Garuda.ttf",
    "/usr/share/fonts/opentype/tlwg/Garuda.otf",
    "/usr/share/fonts/truetype/thai/Sarabun-Regular.ttf",
    "C:/Windows/Fonts/LeelawUI.ttf",
    "C:/Windows/Fonts/tahoma.ttf",
    "/System/Library/Fonts/Supplemental/Thonburi.ttc",
)


def find_thai_font() -> Path:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError("no Thai font found; install fonts-thai-tlwg (scripts/apt-packages.txt)")


@lru_cache(maxsize=1)
def _layout() -> ImageFont.Layout:
    if features.check("raqm"):
        return ImageFont.Layout.RAQM
    log.warning("Pillow has no raqm: Thai marks may be misplaced (install libraqm0)")
    return ImageFont.Layout.BASIC


@lru_cache(maxsize=32)
def thai_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(find_thai_font()), size, layout_engine=_layout())
