"""The synthetic camera draws the district's Thai name with the agent's own font: no hub import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from site_agent.devices import find_thai_font, thai_font

REPO = Path(__file__).resolve().parents[3]

SLATE = """
import sys
from pathlib import Path
from site_agent.media.endpoint import Profile, SyntheticCamera
cam = SyntheticCamera("หนองวัวซอ", Profile(320, 180, 15))
rgb = cam.render(0.0)
assert rgb.shape == (180, 320, 3)
white = int((cam._background(320, 180).min(axis=2) > 200).sum())
assert white > 200, f"no white Thai name on the slate ({white} px)"
hub = sorted(m for m in sys.modules if m == "hub" or m.startswith("hub."))
assert not hub, hub
print("ok")
"""


def test_synthetic_slate_renders_thai_without_importing_the_hub() -> None:
    out = subprocess.run([sys.executable, "-c", SLATE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_thai_font_shapes_thai() -> None:
    assert find_thai_font().is_file()
    font = thai_font(24)
    # A consonant with an upper vowel and a tone mark stays one glyph cluster wide.
    assert font.getlength("น้ำ") < 2 * font.getlength("น")
