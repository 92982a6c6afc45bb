"""Where the agent keeps what enrolment gave it: the hub URL, the site, the token, and the
province's update key (pinned: only packages it signed ever install).

The hub URL must be ``https://`` (the control channel is then ``wss://``): the
enrolment code, the site token and the SNMP credentials the hub pushes cross it. A plain
``http://`` hub is accepted only on this machine (loopback: tests, the demo) or when the
agent is started with the development flag (``allow_insecure_http``); :func:`check_hub_url`
says so in the clerk's words.

The directory is the user's config dir (``platformdirs``), or the
``agent_home`` setting (``SALAKLANG_AGENT_HOME``) / ``--config-dir`` for
kiosks, tests and the demo.
The token lives in its own file readable only by the user.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from site_agent.settings import load_agent_settings

CONFIG_FILE = "agent.json"
TOKEN_FILE = "site.token"


class NotEnrolled(Exception):
    def __init__(self, config_dir: Path) -> None:
        super().__init__(
            f"ยังไม่ได้ลงทะเบียนเครื่องนี้ / this PC is not enrolled yet ({config_dir}). "
            "Run: python -m site_agent enroll --hub URL --code CODE"
        )
        self.config_dir = config_dir


class BrokenConfig(Exception):
    """agent.json or site.token cannot be read (hand-edited, disk trouble): enrol again."""

    def __init__(self, config_dir: Path, reason: str) -> None:
        super().__init__(
            f"ไฟล์ตั้งค่าของเครื่องนี้เสีย กรุณาลงทะเบียนใหม่ / this PC's enrolment cannot be read ({config_dir}: "
            f"{reason}). Run: python -m site_agent enroll --hub URL --code CODE"
        )
        self.config_dir = config_dir


class InsecureHub(ValueError):
    """A plain-http hub that is not on this machine, without the development flag."""

    def __init__(self, url: str) -> None:
        self.message_th = (
            f"ที่อยู่ {url} ไม่เข้ารหัส (http) จึงใช้ไม่ได้ กรุณาใช้ที่อยู่ที่ขึ้นต้นด้วย https:// จากศาลากลางจังหวัด"
        )
        self.message_en = (
            f"{url} is not encrypted (http://): the enrolment code and this PC's token would travel in "
            "clear. Use the hub's https:// address (or, for development only, --allow-insecure-http)."
        )
        super().__init__(self.message_en)


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_hub_url(url: str, allow_insecure: bool | None = None) -> str:
    """``url`` when the agent may talk to it; raises :class:`InsecureHub` (or ValueError: not a URL)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not a hub URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        if allow_insecure is None:
            allow_insecure = load_agent_settings().allow_insecure_http
        if not allow_insecure:
            raise InsecureHub(url)
    return url.strip().rstrip("/")


def default_config_dir() -> Path:
    home = load_agent_settings().agent_home
    if home is not None:
        return home
    return Path(platformdirs.user_config_dir("salaklang-agent", appauthor=False))


@dataclass
class AgentConfig:
    hub_url: str
    site: str
    token: str
    config_dir: Path
    name_th: str = ""
    name_en: str = ""
    auto_join: bool = True
    # The province's Ed25519 key (base64), from the enrolment answer: signs every update.
    update_public_key: str = ""
    # Free-form sections owned by features (devices chosen, SNMP target...).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        base = self.hub_url.rstrip("/")
        scheme, rest = base.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/agent/ws"

    def save(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data.pop("token")
        data.pop("config_dir")
        tmp = self.config_dir / (CONFIG_FILE + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(self.config_dir / CONFIG_FILE)
        token_path = self.config_dir / TOKEN_FILE
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.token)


def load_config(config_dir: Path | None = None) -> AgentConfig:
    config_dir = config_dir or default_config_dir()
    path = config_dir / CONFIG_FILE
    token_path = config_dir / TOKEN_FILE
    if not path.exists() or not token_path.exists():
        raise NotEnrolled(config_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AgentConfig(
            hub_url=data["hub_url"],
            site=data["site"],
            token=token_path.read_text().strip(),
            config_dir=config_dir,
            name_th=data.get("name_th", ""),
            name_en=data.get("name_en", ""),
            auto_join=data.get("auto_join", True),
            # Enrolments before the key was pinned kept a hand-set one under extra.
            update_public_key=str(data.get("update_public_key") or data.get("extra", {}).get("update_public_key") or ""),
            extra=data.get("extra", {}),
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BrokenConfig(config_dir, f"{type(exc).__name__}: {exc}") from exc
