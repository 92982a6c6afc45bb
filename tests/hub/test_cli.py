"""`python -m hub` run the way a user runs it: a bad argument is a clear message and exit code 2."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import python_module


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # The README once showed this very example; it died with a traceback.
        (["demo", "--token", "T"], "at least 16 characters"),
        (["demo", "--port", "70000"], "not a port"),
        (["demo", "--port", "eighty"], "not a whole number"),
        (["demo", "--agents", "50"], "0 to 20 districts"),
        (["demo", "--password", "short"], "at least 12 characters"),
        (["demo", "--password", "qwerty123456"], "too common"),
        (["demo", "--log-level", "loud"], "invalid choice"),
        (["serve", "--port", "-1"], "not a port"),
        (["enroll", "UDN01", "--ttl-hours", "0"], "must be 1 or more"),
        (["user", "add", "somchai", "--role", "boss"], "invalid choice"),
        (["nonsense"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_are_a_message_and_exit_2(args: list[str], says: str) -> None:
    result = python_module("hub", *args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert says in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_demo_on_a_taken_port_says_so(tmp_path: object) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = python_module("hub", "demo", "--port", str(port), "--agents", "0", "--no-media",
                               "--data-dir", f"{tmp_path}/demo")
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
