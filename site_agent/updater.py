"""Agent self-update: download from the hub, verify, install beside the old one, roll back on failure.

Layout under ``<config dir>/updates``::

    state.json          {"current": "0.2.0", "previous": "0.1.0", "pending": null, "failed": [...]}
    versions/0.2.0/     the wheel installed with ``pip install --no-deps --target``
    downloads/          verified wheels (a corrupted one is deleted, never installed)

A *supervisor* (``python -m site_agent.updater supervise --root R -- site_agent run``) starts
the agent as a child with ``versions/<current>`` first on ``PYTHONPATH``.
When the agent has installed a version it exits with :data:`RESTART_EXIT`;
the supervisor starts the new version *on probation*: unless the child
reports ``confirmed`` (it reached the hub and said hello with its new
version) within the probation time, or if it exits early, the supervisor
rolls back to the previous version and never retries the failed one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from packaging.version import InvalidVersion, Version

from site_agent.protocol.signing import SignatureRefused, verify_package
from site_agent.settings import AgentSettings

log = logging.getLogger("site_agent.updater")

RESTART_EXIT = 75  # EX_TEMPFAIL: "start me again" to the supervisor
# Handed to the supervised agent (site_agent.settings: updates_dir, supervised).
UPDATES_DIR_ENV = AgentSettings.env_name("updates_dir")
SUPERVISED_ENV = AgentSettings.env_name("supervised")
SITE_HEADER = "X-Salaklang-Site"
TOKEN_HEADER = "X-Salaklang-Token"
NO_UPDATE_BEFORE_BRIEFING_S = 30 * 60


class PackageRejected(Exception):
    """The downloaded package is not the one the hub published (digest mismatch, truncated)."""


@dataclass
class UpdateState:
    current: str | None = None  # None: the version installed with the agent itself
    previous: str | None = None
    pending: str | None = None  # installed, on probation until the child confirms
    failed: list[str] = field(default_factory=list)
    pending_since: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def note(self, event: str, **data: Any) -> None:
        self.history = [*self.history[-19:], {"at": time.time(), "event": event, **data}]


def load_state(root: Path) -> UpdateState:
    path = root / "state.json"
    if not path.exists():
        return UpdateState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return UpdateState(**raw)
    except (ValueError, TypeError):
        log.warning("unreadable %s: starting from the installed version", path)
        return UpdateState()


def save_state(root: Path, state: UpdateState) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / "state.json.tmp"
    tmp.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
    tmp.replace(root / "state.json")


def version_dir(root: Path, version: str) -> Path:
    return root / "versions" / version


def _newer(candidate: str, running: str) -> bool:
    try:
        return Version(candidate) > Version(running)
    except InvalidVersion:
        return False


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_signature(path: Path, signature_b64: str, public_key_b64: str) -> None:
    """Ed25519 over the wheel's bytes, with the province's key pinned on this PC. Raises PackageRejected.

    Always: there is no setting that skips it. A PC without a pinned key (enrolled with a
    hub that had none) installs nothing until it is enrolled again.
    """
    if not public_key_b64:
        raise PackageRejected(
            "package refused: this PC has no province key pinned; enrol it again with a new code"
        )
    try:
        verify_package(path.read_bytes(), signature_b64, public_key_b64)
    except SignatureRefused as exc:
        raise PackageRejected(f"package refused: bad signature ({exc})") from exc


def install_wheel(wheel: Path, target: Path) -> None:
    """Install into a fresh directory, then move it into place (never a half-installed version)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
             "--disable-pip-version-check", "--no-compile", "--target", str(staging), str(wheel)],
            capture_output=True, text=True, timeout=300,
        )
        if proc.returncode != 0:
            raise OSError(f"pip install failed: {proc.stderr.strip()[-1000:]}")
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class Updater:
    """Check, download, verify and install; the agent calls :meth:`check_and_apply`.

    ``guard()`` returns a reason not to install now (a briefing is running or
    due within 30 minutes), or ``None``. ``restart()`` is called after a
    successful install; it must make the process exit with :data:`RESTART_EXIT`.
    """

    def __init__(
        self,
        *,
        hub_url: str,
        site: str,
        token: str,
        root: Path,
        running_version: str,
        guard: Callable[[], str | None],
        restart: Callable[[], None],
        on_waiting: Callable[[str | None], None] | None = None,
        public_key: str = "",
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.site = site
        self.token = token
        self.root = root
        self.running_version = running_version
        self.guard = guard
        self.restart = restart
        self.on_waiting = on_waiting
        # The province's base64 Ed25519 key, pinned at enrolment: only packages it signed install.
        self.public_key = public_key
        self._lock = asyncio.Lock()

    @property
    def headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.token, SITE_HEADER: self.site}

    async def fetch_offer(self, http: aiohttp.ClientSession) -> dict[str, Any] | None:
        async with http.get(
            f"{self.hub_url}/agent/updates/check",
            params={"version": self.running_version}, headers=self.headers,
        ) as resp:
            resp.raise_for_status()
            data = await resp.json()
        offer = data.get("offer")
        return offer if isinstance(offer, dict) else None

    async def download(self, http: aiohttp.ClientSession, offer: dict[str, Any]) -> Path:
        folder = self.root / "downloads"
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(str(offer.get("filename") or f"salaklang-{offer['version']}.whl")).name
        path = folder / name
        digest = hashlib.sha256()
        size = 0
        async with http.get(self.hub_url + str(offer["url"]), headers=self.headers) as resp:
            resp.raise_for_status()
            with path.open("wb") as out:
                async for chunk in resp.content.iter_chunked(256 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        expected = str(offer["sha256"]).lower()
        if digest.hexdigest() != expected or size != int(offer.get("size", size)):
            path.unlink(missing_ok=True)
            raise PackageRejected(
                f"package {offer['version']} refused: SHA-256 {digest.hexdigest()[:16]}… "
                f"({size} bytes) is not the published {expected[:16]}…"
            )
        try:
            verify_signature(path, str(offer.get("signature") or ""), self.public_key)
        except PackageRejected:
            path.unlink(missing_ok=True)
            raise
        return path

    async def check_and_apply(self) -> dict[str, Any]:
        """One update attempt; the returned dict is what the ``update_check`` command answers."""
        async with self._lock:
            return await self._check_and_apply()

    async def _check_and_apply(self) -> dict[str, Any]:
        state = load_state(self.root)
        timeout = aiohttp.ClientTimeout(total=600, sock_read=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            offer = await self.fetch_offer(http)
            if offer is None or not _newer(str(offer["version"]), self.running_version):
                return {"outcome": "up_to_date", "running": self.running_version}
            version = str(offer["version"])
            if version in state.failed:
                return {"outcome": "skipped_failed_before", "version": version, "running": self.running_version}
            reason = self.guard()
            if reason is not None:
                if self.on_waiting is not None:
                    self.on_waiting(version)
                log.info("update %s waits: %s", version, reason)
                return {"outcome": "deferred", "version": version, "reason": reason}
            try:
                wheel = await self.download(http, offer)
            except PackageRejected as exc:
                log.error("%s", exc)
                state.note("rejected", version=version, reason=str(exc))
                save_state(self.root, state)
                return {"outcome": "rejected", "version": version, "reason": str(exc),
                        "running": self.running_version}
        try:
            await asyncio.to_thread(install_wheel, wheel, version_dir(self.root, version))
        except (OSError, subprocess.TimeoutExpired) as exc:
            state.failed.append(version)
            state.note("install_failed", version=version, reason=str(exc))
            save_state(self.root, state)
            return {"outcome": "install_failed", "version": version, "reason": str(exc)}
        # The download can take minutes: a briefing may have come close meanwhile.
        reason = self.guard()
        if reason is not None:
            return {"outcome": "deferred", "version": version, "reason": reason}
        state.previous = state.current
        state.pending = version
        state.pending_since = time.time()
        state.note("installed", version=version, previous=self.running_version)
        save_state(self.root, state)
        log.info("update %s installed; restarting into it", version)
        self.restart()
        return {"outcome": "installing", "version": version, "previous": self.running_version}


def confirm_running(root: Path, version: str) -> bool:
    """The child reached the hub with ``version``: end its probation. Returns True if it was pending."""
    state = load_state(root)
    if state.pending != version:
        return False
    state.current, state.pending, state.pending_since = version, None, None
    state.note("confirmed", version=version)
    save_state(root, state)
    (root / "confirmed").write_text(version, encoding="utf-8")
    return True


# --- the supervisor ----------------------------------------------------------------------


def _child_env(root: Path, state: UpdateState) -> dict[str, str]:
    env = dict(os.environ)
    env[SUPERVISED_ENV] = "1"
    env[UPDATES_DIR_ENV] = str(root)
    version = state.pending or state.current
    if version is not None:
        path = str(version_dir(root, version))
        env["PYTHONPATH"] = path + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def supervise(child_args: Sequence[str], root: Path, probation_s: float = 90.0) -> int:
    """Run the agent, restart it into updates, roll back updates that do not come up."""
    child: subprocess.Popen[bytes] | None = None
    root.mkdir(parents=True, exist_ok=True)

    def forward(signum: int, _frame: Any) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    while True:
        state = load_state(root)
        (root / "confirmed").unlink(missing_ok=True)
        # cwd outside any checkout, so `-m site_agent` resolves through PYTHONPATH.
        child = subprocess.Popen([sys.executable, "-m", *child_args], env=_child_env(root, state), cwd=root)
        if state.pending is not None:
            if not _probation(child, root, state.pending, probation_s):
                _rollback(root, state.pending)
                if child.poll() is None:
                    child.terminate()
                    try:
                        child.wait(10)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                continue
        rc = child.wait()
        if rc == RESTART_EXIT:
            continue
        return rc


def _probation(child: subprocess.Popen[bytes], root: Path, version: str, probation_s: float) -> bool:
    deadline = time.monotonic() + probation_s
    marker = root / "confirmed"
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text(encoding="utf-8").strip() == version:
            return True
        if child.poll() is not None:
            if child.returncode in (0, -signal.SIGTERM, -signal.SIGINT):
                return True  # the clerk quit or the session ended: no verdict, keep the version pending
            log.error("agent %s exited with %s during probation", version, child.returncode)
            return False
        time.sleep(0.2)
    log.error("agent %s did not reach the hub within %.0f s", version, probation_s)
    return False


def _rollback(root: Path, version: str) -> None:
    state = load_state(root)
    if state.pending != version:
        return
    state.failed.append(version)
    state.pending, state.pending_since = None, None
    state.current = state.previous
    state.note("rolled_back", version=version, to=state.current or "installed")
    save_state(root, state)
    log.error("update %s rolled back to %s", version, state.current or "the installed version")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m site_agent.updater")
    sub = parser.add_subparsers(dest="command", required=True)
    sup = sub.add_parser("supervise", help="run the agent under the update supervisor")
    sup.add_argument("--root", required=True, help="updates directory (state.json, versions/)")
    sup.add_argument("--probation", type=float, default=90.0, help="seconds a new version has to reach the hub")
    sup.add_argument(
        "child", nargs=argparse.REMAINDER,
        help="after --: the module and its arguments, e.g. -- site_agent run --no-tray",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    child = list(args.child[1:] if args.child[:1] == ["--"] else args.child)
    with contextlib.suppress(KeyboardInterrupt):
        return supervise(child, Path(args.root), args.probation)
    return 130


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: module state
    # (the client → clerk map) must exist once.
    from site_agent.updater import main as _main

    sys.exit(_main())
