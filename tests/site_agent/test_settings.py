"""Agent settings: one typed class, the SALAKLANG_ prefix, each field documented in docs/SETTINGS.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from site_agent import config, logs
from site_agent.settings import AgentSettings
from site_agent.updater import SUPERVISED_ENV, UPDATES_DIR_ENV

REPO = Path(__file__).resolve().parents[2]
AGENT_DIRS = ("site_agent",)


def _agent_section() -> str:
    doc = (REPO / "docs" / "SETTINGS.md").read_text(encoding="utf-8")
    start = doc.index("\n# Agent settings\n")
    end = doc.find("\n# ", start + 1)
    return doc[start : end if end != -1 else len(doc)]


def test_every_agent_setting_has_help_and_is_documented_in_its_section() -> None:
    documented = set(re.findall(r"^\| (\w+) \|", _agent_section(), flags=re.M))
    for name, field in AgentSettings.model_fields.items():
        assert field.description, f"agent setting {name} has no description"
        assert name in documented, f"agent setting {name} is missing from docs/SETTINGS.md (Agent settings)"
    assert documented - {"setting"} <= set(AgentSettings.model_fields), "documented agent settings that do not exist"


def test_the_agent_reads_no_salaklang_variable_behind_the_settings() -> None:
    """Every SALAKLANG_* name in the agent's code is a declared setting (no ad-hoc os.environ reads)."""
    found = subprocess.run(
        ["grep", "-rhoE", "SALAKLANG_[A-Z_]+", *AGENT_DIRS, "--include=*.py"],
        cwd=REPO, capture_output=True, text=True, check=False,
    ).stdout.split()
    declared = {AgentSettings.env_name(n) for n in AgentSettings.model_fields} | {"SALAKLANG_"}
    assert set(found) <= declared, f"undeclared agent variables: {sorted(set(found) - declared)}"
    reads = subprocess.run(
        ["grep", "-rnE", r"environ(\.get)?\(|environ\[|getenv\(", *AGENT_DIRS, "--include=*.py"],
        cwd=REPO, capture_output=True, text=True, check=False,
    ).stdout
    assert "SALAKLANG" not in reads, reads


def test_env_prefix_empty_values_and_types(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SALAKLANG_AGENT_HOME", str(tmp_path / "kiosk"))
    monkeypatch.setenv("SALAKLANG_AGENT_LOG_DIR", "")  # empty: unset, as before
    monkeypatch.setenv("SALAKLANG_SYNTHETIC_DEVICES", "1")
    monkeypatch.setenv("SALAKLANG_PORT", "9200")  # the hub's setting: not the agent's business
    s = AgentSettings()
    assert s.agent_home == tmp_path / "kiosk" and s.agent_log_dir is None and s.synthetic_devices is True
    assert config.default_config_dir() == tmp_path / "kiosk"
    assert logs.log_dir() != Path("")
    monkeypatch.setenv("SALAKLANG_SYNTHETIC_DEVICES", "perhaps")
    with pytest.raises(ValidationError, match="synthetic_devices"):
        AgentSettings()


def test_the_supervisor_hands_its_child_declared_settings() -> None:
    assert UPDATES_DIR_ENV == "SALAKLANG_UPDATES_DIR" and SUPERVISED_ENV == "SALAKLANG_SUPERVISED"
    with pytest.raises(KeyError):
        AgentSettings.env_name("no_such_setting")
