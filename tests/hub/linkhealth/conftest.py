"""Real components for the link-health tests: Debian's snmpd, network namespaces."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

COMMUNITY = "salak-ro"
V3_USER = "salakmon"
V3_AUTH = "auth-secret-1"
V3_PRIV = "priv-secret-1"
SNMPD = "/usr/sbin/snmpd"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Snmpd:
    """One snmpd on 127.0.0.1:<port> with its own config and persistent dir."""

    workdir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.workdir / "snmpd.conf"
        conf.write_text(
            f"rocommunity {COMMUNITY} 127.0.0.1\n"
            f'createUser {V3_USER} SHA "{V3_AUTH}" AES "{V3_PRIV}"\n'
            f"rouser {V3_USER} priv\n"
        )
        persist = self.workdir / "persist"
        persist.mkdir(exist_ok=True)
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": "/nonexistent"}
        self.proc = subprocess.Popen(
            [SNMPD, "-f", "-Lf", str(self.workdir / "snmpd.log"), "-C", "-c", str(conf),
             "-I", "-smux", f"udp:127.0.0.1:{self.port}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.workdir / "snmpd.log").read_text(errors="replace")
                raise RuntimeError(f"snmpd exited: {log[-2000:]}")
            ok = subprocess.run(
                ["snmpget", "-v2c", "-c", COMMUNITY, "-t", "0.3", "-r", "0", "-Oqv",
                 f"127.0.0.1:{self.port}", "1.3.6.1.2.1.1.3.0"],
                capture_output=True, env={**os.environ, "MIBS": ""},
            )
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("snmpd did not answer within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def snmpd(tmp_path: Path) -> Iterator[Snmpd]:
    assert shutil.which(SNMPD) or Path(SNMPD).exists(), "snmpd missing: scripts/apt-packages.txt lists it"
    d = Snmpd(tmp_path / "snmpd", free_udp_port())
    d.workdir.mkdir()
    try:
        d.start()
        yield d
    finally:
        d.stop()


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=30)


@dataclass
class Netns:
    """A namespace 'agent' joined to the root namespace ('hub') by a veth pair."""

    name: str
    hub_if: str
    agent_if: str
    hub_ip: str
    agent_ip: str

    def exec(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.name, *cmd, check=check)

    @property
    def hub_ifindex(self) -> int:
        return int(Path(f"/sys/class/net/{self.hub_if}/ifindex").read_text())


@pytest.fixture
def netns() -> Iterator[Netns]:
    tag = f"{os.getpid() % 10000:04d}"
    ns = Netns(
        name=f"slk-agent-{tag}", hub_if=f"slkh{tag}", agent_if=f"slka{tag}",
        # Per-run subnet too: two suites on one machine must not share an address.
        hub_ip=f"10.203.{os.getpid() % 250}.1", agent_ip=f"10.203.{os.getpid() % 250}.2",
    )
    try:
        run("ip", "netns", "add", ns.name)
        run("ip", "link", "add", ns.hub_if, "type", "veth", "peer", "name", ns.agent_if)
        run("ip", "link", "set", ns.agent_if, "netns", ns.name)
        run("ip", "addr", "add", f"{ns.hub_ip}/24", "dev", ns.hub_if)
        run("ip", "link", "set", ns.hub_if, "up")
        ns.exec("ip", "addr", "add", f"{ns.agent_ip}/24", "dev", ns.agent_if)
        ns.exec("ip", "link", "set", ns.agent_if, "up")
        ns.exec("ip", "link", "set", "lo", "up")
        yield ns
    finally:
        # Deleting the namespace removes its nft tables, qdiscs and its veth end
        # (which takes the peer with it).
        with contextlib.suppress(Exception):
            run("ip", "netns", "del", ns.name, check=False)
        with contextlib.suppress(Exception):
            run("ip", "link", "del", ns.hub_if, check=False)
