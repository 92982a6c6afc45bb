"""The pure rules of agent updates: which release a district is offered, and wave progress."""

from __future__ import annotations

from hub.updates.model import WHEEL_NAME, is_updated, newest_offer, parse_version, percent, sort_key


def test_newest_offer_is_the_newest_release_above_what_runs() -> None:
    candidates = [("1.2.0", "a"), ("1.10.0", "b"), ("1.9.9", "c"), ("not-a-version", "d")]
    assert newest_offer(candidates, "1.0.0") == "b"  # PEP 440 order, not text order
    assert newest_offer(candidates, "1.10.0") is None  # nothing newer
    assert newest_offer(candidates, "1.9.9") == "b"
    # An agent reporting a version that is not one gets the newest real release.
    assert newest_offer(candidates, "dev") == "b"
    assert newest_offer([], "1.0") is None


def test_versions_progress_and_wheel_names() -> None:
    assert parse_version("2.0rc1") is not None and parse_version("two") is None
    assert sorted(["1.2", "junk", "1.10"], key=sort_key) == ["junk", "1.2", "1.10"]
    assert is_updated("1.10", "1.9") and is_updated("1.9", "1.9")
    assert not is_updated("1.8", "1.9") and not is_updated(None, "1.9") and not is_updated("x", "1.9")
    assert percent(1, 3) == 33.3 and percent(0, 0) == 0.0
    assert WHEEL_NAME.match("site_agent-1.2.0-py3-none-any.whl")
    assert not WHEEL_NAME.match("../evil.whl") and not WHEEL_NAME.match("agent.zip")
