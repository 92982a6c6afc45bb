"""Where the agent keeps what enrolment gave it: the hub URL, the site, the token.

The directory is the user's config dir (``platformdirs``), or the
``agent_home`` setting (``SALAKLANG_AGENT_HOME``) / ``--config-dir`` for
kiosks, tests and the demo.
The token lives in its own file readable only by the user.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
            extra=data.get("extra", {}),
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BrokenConfig(config_dir, f"{type(exc).__name__}: {exc}") from exc
