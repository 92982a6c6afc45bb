"""The probe's command line (a clerk's or an engineer's diagnostic): clear refusals, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "site_agent.netmon.probe", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "says"), [
    (["127.0.0.1", "99999"], "99999 is out of range (1–65535)"),
    (["127.0.0.1", "seven"], "not a number: 'seven'"),
    (["127.0.0.1", "9", "--probes", "0"], "0 is out of range"),
    (["127.0.0.1", "9", "--payload", "4096"], "4096 is out of range"),
    (["127.0.0.1", "9", "--tmax-ms", "-1"], "-1 is out of range"),
])
def test_bad_arguments_are_refused_by_name(args: list[str], says: str) -> None:
    done = probe(*args)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_name_that_does_not_resolve_is_said_plainly() -> None:
    done = probe("no-such-hall.invalid", "7", "--probes", "1", "--tmax-ms", "10")
    assert done.returncode == 2, done
    assert "cannot reach no-such-hall.invalid port 7" in done.stderr and "Traceback" not in done.stderr


def test_nothing_answering_is_a_report_of_total_loss() -> None:
    done = probe("127.0.0.1", "9", "--probes", "3", "--spacing-ms", "1", "--tmax-ms", "50")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["probes"] == 3 and report["received"] == 0 and report["loss_pct"] == 100.0
