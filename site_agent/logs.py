"""The agent's log files: in the user's log directory, rotated, and sendable to the province.

"Send logs to the province" gzips the current and rotated files (newest
last, trimmed from the oldest end to fit the hub's limit) and posts them to
``/agent/logs`` with the site token.
"""

from __future__ import annotations

import gzip
import logging
import logging.handlers
from pathlib import Path
from typing import Any

import aiohttp
import platformdirs

from site_agent.settings import load_agent_settings

LOG_NAME = "agent.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 5
SEND_LIMIT = 4 * 1024 * 1024  # below the hub's default 5 MB
SITE_HEADER = "X-Salaklang-Site"
TOKEN_HEADER = "X-Salaklang-Token"


def log_dir() -> Path:
    configured = load_agent_settings().agent_log_dir
    return configured or Path(platformdirs.user_log_dir("salaklang-agent", appauthor=False))


def setup_logging(level: str | int = "INFO", directory: Path | None = None) -> Path:
    """Log to a rotating file (and stderr); returns the file path."""
    directory = directory or log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOG_NAME
    root = logging.getLogger()
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    if not any(type(h) is logging.StreamHandler for h in root.handlers):
        root.addHandler(logging.StreamHandler())
    root.setLevel(level)
    return path


def bundle(directory: Path | None = None, limit: int = SEND_LIMIT) -> bytes:
    """Gzip of the log files, oldest first, keeping the newest text if it must be cut."""
    directory = directory or log_dir()
    files = sorted(directory.glob(LOG_NAME + "*"), key=lambda p: p.stat().st_mtime)
    text = b"".join(f.read_bytes() for f in files if f.is_file())
    data = gzip.compress(text)
    while len(data) > limit and text:
        text = text[len(text) // 4 :]  # drop the oldest quarter
        data = gzip.compress(text)
    return data


async def send_logs(hub_url: str, site: str, token: str, directory: Path | None = None) -> dict[str, Any]:
    """Upload the bundle; raises aiohttp.ClientResponseError on refusal."""
    body = bundle(directory)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http, http.post(
        hub_url.rstrip("/") + "/agent/logs",
        data=body,
        headers={
            TOKEN_HEADER: token,
            SITE_HEADER: site,
            "Content-Type": "application/gzip",
        },
    ) as resp:
        resp.raise_for_status()
        result: dict[str, Any] = await resp.json()
        return result
