"""The agent speaks https/wss only, except to this machine or with the development flag (issue 12)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from site_agent.client import AgentClient
from site_agent.config import AgentConfig, InsecureHub, check_hub_url
from site_agent.enrol import EnrolFailed, enrol
from tests.conftest import python_module


def test_only_https_except_loopback() -> None:
    for ok in ("https://salaklang.udonthani.go.th", "https://10.0.0.5:8443/", "http://127.0.0.1:8080",
               "http://127.9.9.9", "http://[::1]:8080", "http://localhost:8080"):
        assert check_hub_url(ok, allow_insecure=False) == ok.rstrip("/")
    for bad in ("http://salaklang.udonthani.go.th", "http://10.0.0.5:8080", "http://[2001:db8::1]/",
                "http://127.0.0.1.example.org"):
        with pytest.raises(InsecureHub):
            check_hub_url(bad, allow_insecure=False)
        assert check_hub_url(bad, allow_insecure=True)  # the explicit development flag
    with pytest.raises(ValueError):
        check_hub_url("ftp://x", allow_insecure=True)


def test_the_flag_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALAKLANG_ALLOW_INSECURE_HTTP", raising=False)
    with pytest.raises(InsecureHub):
        check_hub_url("http://hub.example.org")
    monkeypatch.setenv("SALAKLANG_ALLOW_INSECURE_HTTP", "1")
    assert check_hub_url("http://hub.example.org") == "http://hub.example.org"


async def test_enrolment_refuses_plain_http_before_sending_the_code(tmp_path: Path) -> None:
    with pytest.raises(EnrolFailed) as info:
        await enrol("http://hub.example.org", "ABCDE-FGHJK", tmp_path / "a", allow_insecure=False)
    assert info.value.reason == "insecure_url"
    assert "https://" in info.value.message_th and "https://" in info.value.message_en
    assert not (tmp_path / "a").exists()


async def test_the_client_will_not_connect_to_a_hand_edited_http_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALAKLANG_ALLOW_INSECURE_HTTP", raising=False)
    config = AgentConfig(hub_url="http://hub.example.org", site="UDN01", token="t" * 43, config_dir=tmp_path)
    with pytest.raises(InsecureHub):
        await asyncio.wait_for(AgentClient(config).run(), 5)


def test_cli_says_so_in_thai_and_english(tmp_path: Path) -> None:
    result = python_module("site_agent", "--config-dir", str(tmp_path), "enroll", "--hub", "http://hub.example.org",
                           "--code", "ABCDE-FGHJK", env={"SALAKLANG_ALLOW_INSECURE_HTTP": ""})
    assert result.returncode == 1
    assert "https://" in result.stderr and "ไม่เข้ารหัส" in result.stderr and "--allow-insecure-http" in result.stderr
