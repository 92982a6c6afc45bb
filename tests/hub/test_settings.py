"""Settings: one prefix for env vars, a TOML file, defaults, and documentation for each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import Settings
from tests.conftest import REPO, python_module


def test_defaults_match_the_issue() -> None:
    s = Settings()
    assert (s.host, s.port, s.timezone) == ("127.0.0.1", 8080, "Asia/Bangkok")
    assert s.effective_database_url.startswith("sqlite:///") and s.effective_database_url.endswith("var/salaklang.db")


def test_env_prefix_and_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "hub.toml"
    toml.write_text('port = 9100\ntimezone = "UTC"\nheartbeat_interval_s = 2.5\n')
    monkeypatch.setenv("SALAKLANG_CONFIG", str(toml))
    monkeypatch.setenv("SALAKLANG_PORT", "9200")  # env beats the file
    s = Settings()
    assert (s.port, s.timezone, s.heartbeat_interval_s) == (9200, "UTC", 2.5)


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALAKLANG_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="timezone"):
        Settings()
    monkeypatch.delenv("SALAKLANG_TIMEZONE")
    monkeypatch.setenv("SALAKLANG_PORT", "99999")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_missing_toml_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALAKLANG_CONFIG", "/nonexistent/hub.toml")
    with pytest.raises(FileNotFoundError, match=r"hub\.toml"):
        Settings()


def test_every_setting_has_help_and_is_documented() -> None:
    doc = (REPO / "docs" / "SETTINGS.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (\w+) \|", doc, flags=re.M))
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert name in documented, f"setting {name} is missing from docs/SETTINGS.md"


def test_help_lists_the_commands() -> None:
    out = python_module("hub", "--help")
    assert out.returncode == 0
    for command in ("serve", "demo", "enroll", "user", "inventory", "migrate"):
        assert command in out.stdout
    agent = python_module("site_agent", "--help")
    assert agent.returncode == 0 and "enroll" in agent.stdout and "run" in agent.stdout


def test_user_add_cli_creates_an_account(tmp_path: Path) -> None:
    env = {"SALAKLANG_DATA_DIR": str(tmp_path), "PW": "s3cret-password"}
    made = python_module("hub", "user", "add", "somsri", "--role", "operator", "--password-env", "PW", env=env)
    assert made.returncode == 0 and "created operator somsri" in made.stdout, made.stderr
    again = python_module("hub", "user", "add", "somsri", "--role", "viewer", "--password-env", "PW", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = python_module("hub", "user", "add", "x", "--role", "god", "--password-env", "PW", env=env)
    assert bad.returncode == 2  # argparse refuses the role
    listing = python_module("hub", "user", "list", env=env)
    assert "somsri" in listing.stdout and "operator" in listing.stdout
    assert str(REPO)  # commands ran from the repository root
