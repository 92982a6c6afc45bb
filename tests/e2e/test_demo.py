"""`python -m hub demo` as a user runs it: 20 real agent processes, live status, stop/start."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, free_port

TOKEN = "demo-test-token-0123456789"


def api(port: int, path: str, method: str = "GET") -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def wait_until(predicate: Any, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    data = tmp_path_factory.mktemp("demo")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--port", str(port), "--token", TOKEN, "--no-media",
         "--data-dir", str(data)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(2)]
    assert f"http://127.0.0.1:{port}" in lines[0], lines
    assert re.search(r"login: admin / \S+", lines[1]), lines
    try:
        yield port, proc
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


@pytest.mark.slow
def test_demo_shows_20_districts_online_and_flips_one(demo: tuple[int, subprocess.Popen[str]]) -> None:
    port, _ = demo
    wait_until(lambda: sum(s["online"] for s in api(port, "/api/v1/sites")) == 20, 60)
    sites = api(port, "/api/v1/sites")
    assert len(sites) == 20
    na_yung = next(s for s in sites if s["code"] == "UDN17")
    assert (na_yung["name_th"], na_yung["name_en"], na_yung["online"]) == ("นายูง", "Na Yung", True)
    assert na_yung["agent_version"] and na_yung["last_seen"]

    api(port, "/api/v1/demo/agents/UDN17/stop", "POST")
    took = wait_until(lambda: not api(port, "/api/v1/sites/UDN17")["online"], 15)
    assert took < 15
    assert sum(s["online"] for s in api(port, "/api/v1/sites")) == 19

    api(port, "/api/v1/demo/agents/UDN17/start", "POST")
    wait_until(lambda: api(port, "/api/v1/sites/UDN17")["online"], 15)


@pytest.mark.slow
def test_demo_agent_killed_hard_goes_offline_within_15s(demo: tuple[int, subprocess.Popen[str]]) -> None:
    port, _ = demo
    wait_until(lambda: api(port, "/api/v1/sites/UDN05")["online"], 60)
    pid = next(a["pid"] for a in api(port, "/api/v1/demo/agents") if a["site"] == "UDN05")
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not api(port, "/api/v1/sites/UDN05")["online"], 15) < 15
    api(port, "/api/v1/demo/agents/UDN05/start", "POST")
    wait_until(lambda: api(port, "/api/v1/sites/UDN05")["online"], 15)


def test_demo_page_needs_login(demo: tuple[int, subprocess.Popen[str]]) -> None:
    port, _ = demo
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/sites")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 401
    assert Path(REPO).is_dir()
