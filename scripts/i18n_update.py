#!/usr/bin/env python3
"""Re-extract translatable strings and merge them into the th/en catalogs (keeps translations)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "hub" / "locale"


def main() -> int:
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    pot = LOCALE / "messages.pot"
    subprocess.run(
        [*pybabel, "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot), "--no-location",
         "--sort-output", "-k", "_", "-k", "N_", "-k", "gettext", str(ROOT)],
        check=True,
    )
    for lang in ("th", "en"):
        po = LOCALE / lang / "LC_MESSAGES" / "messages.po"
        verb = "update" if po.exists() else "init"
        args = [*pybabel, verb, "-i", str(pot), "-d", str(LOCALE), "-l", lang, "-D", "messages"]
        if verb == "update":
            args += ["--no-fuzzy-matching", "--ignore-obsolete"]
        subprocess.run(args, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
