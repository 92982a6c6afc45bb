"""``python -m hub report monthly --month 2018-04 --format pdf -o FILE`` (``2561-04`` works too).

The arguments are declared in hub/cli.py (so ``--help`` does not load
WeasyPrint); this is the command. Errors (a malformed month, one in the future or before billing started, bad
settings) print one clear line and exit 2; nothing is written unless the
whole report was built and rendered.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from hub.db import create_db_engine, migrate
from hub.inventory.loader import load_inventory
from hub.inventory.model import InventoryError, format_issues
from hub.inventory.sync import sync_inventory
from hub.models import utcnow
from hub.reports import cache as render_cache
from hub.reports import model as m
from hub.reports import service, store
from hub.settings import ENV_PREFIX, Settings


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _write(path: Path, body: bytes) -> None:
    """Write next to the target and rename: a failure never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_monthly(args: argparse.Namespace) -> int:
    try:
        month = m.Month.parse(args.month)
    except m.ReportError as exc:
        return _fail(exc.message)
    out = Path(args.output) if args.output else None
    if out is not None and not out.resolve().parent.is_dir():
        return _fail(f"no such directory: {out.resolve().parent}")
    if getattr(args, "config", None):
        os.environ[ENV_PREFIX + "CONFIG"] = args.config
    try:
        settings = Settings()
    except (ValidationError, FileNotFoundError) as exc:
        return _fail(f"settings: {exc}")
    engine = create_db_engine(settings.effective_database_url)
    try:
        migrate(engine)
        inventory = load_inventory(settings.inventory_path)
        sync_inventory(engine, inventory)
        store.sync_tariffs(engine, inventory)
        report = service.build_monthly(engine, settings, month, utcnow())
        # The hub's own render cache: a month the job already rendered is a file read here too.
        cache = render_cache.RenderCache(settings.data_dir / "cache" / "reports", settings.reports_cache_mb << 20)
        body, _, _ = render_cache.render_cached(cache, report, args.format, args.lang, settings.timezone)
    except InventoryError as exc:
        return _fail("inventory:\n" + format_issues(exc.issues))
    except m.ReportError as exc:
        return _fail(exc.message)
    finally:
        engine.dispose()
    if out is None:
        sys.stdout.buffer.write(body)
    else:
        _write(out, body)
        print(f"{out}: {len(body):,} bytes, {month.label(args.lang)}", file=sys.stderr)
    return 0
