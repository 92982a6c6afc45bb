"""The hub publishes only agent packages the province signed (issue 12), and pins its key on
every agent it enrols. A real hub on loopback, real multipart uploads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import audit
from hub.settings import Settings
from site_agent.config import load_config
from site_agent.protocol.signing import sign_package, verify_package
from tests.conftest import (
    RELEASE_PUBLIC_KEY,
    HubHandle,
    _ensure_accounts,
    python_module,
    sign,
    start_hub,
)

WHEEL = b"PK\x03\x04 pretend agent wheel " + bytes(range(256))


def form(version: str, signature: str | None, data: bytes = WHEEL) -> aiohttp.FormData:
    f = aiohttp.FormData()
    f.add_field("version", version)
    if signature is not None:
        f.add_field("signature", signature)
    f.add_field("file", data, filename=f"salaklang-{version}-py3-none-any.whl", content_type="application/octet-stream")
    return f


async def test_only_packages_signed_by_the_province_are_published(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    url = f"{hub.url}/api/v1/agent-versions"
    foreign = sign_package(WHEEL, Ed25519PrivateKey.generate())
    for signature, says in ((None, "not signed"), ("", "not signed"), ("Z2FyYmFnZQ==", "64"),
                            ("!!! not base64 !!!", "base64"), (foreign, "not the province's"),
                            (sign(WHEEL + b"x"), "not the province's")):
        async with http.post(url, data=form("9.1.0", signature), headers=hub.auth()) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["field"] == "signature" and says in body["error"], (signature, body)
    async with http.get(url, headers=hub.auth()) as resp:
        assert await resp.json() == []  # nothing refused was listed (a garbage signature once was, as "signed")
    assert audit.recent(hub.engine, action_prefix="agent_release.refused")[0].ok is False
    async with http.post(url, data=form("9.1.0", sign(WHEEL)), headers=hub.auth()) as resp:
        body = await resp.json()
        assert resp.status == 201, body
    assert body["signed"] is True and body["sha256"] == hashlib.sha256(WHEEL).hexdigest()


async def test_a_hub_without_the_province_key_publishes_nothing(settings: Settings, tmp_path: Path) -> None:
    settings.update_public_key = ""
    handle = await start_hub(settings, tmp_path)
    try:
        _ensure_accounts(handle)
        async with aiohttp.ClientSession() as http, http.post(
            f"{handle.url}/api/v1/agent-versions", data=form("9.1.0", sign(WHEEL)), headers=handle.auth()
        ) as resp:
            assert resp.status == 409 and "update_public_key" in (await resp.json())["error"]
    finally:
        await handle.runner.cleanup()


async def test_garbage_multipart_is_a_400(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    url = f"{hub.url}/api/v1/agent-versions"
    bodies = [
        (b"not multipart at all", "multipart/form-data; boundary=xyz"),
        (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.whl\"\r\n\r\nabc", "multipart/form-data; boundary=xyz"),
        (b"--xyz\r\nno headers end", "multipart/form-data; boundary=xyz"),
        (b"--xyz\r\nContent-Type: text/plain; charset=nonsense-42\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0\r\n--xyz--\r\n",
         "multipart/form-data; boundary=xyz"),
        (b"\xff\xfe" * 100, "multipart/form-data"),  # no boundary at all
        (b"--a\r\n\r\n--a--", "multipart/mixed; boundary=a"),
    ]
    for raw, content_type in bodies:
        async with http.post(url, data=raw, headers={**hub.auth(), "Content-Type": content_type}) as resp:
            assert 400 <= resp.status < 500, (raw[:40], resp.status, await resp.text())
            assert "error" in await resp.json()


async def test_enrolment_pins_the_province_key_on_the_agent(hub: HubHandle) -> None:
    config = await hub.enrol_agent("UDN08")
    assert config.update_public_key == RELEASE_PUBLIC_KEY
    assert load_config(config.config_dir).update_public_key == RELEASE_PUBLIC_KEY


def test_release_key_cli_makes_a_key_and_signs_what_the_hub_accepts(tmp_path: Path) -> None:
    key = tmp_path / "province.pem"
    made = python_module("hub", "release-key", "new", str(key))
    assert made.returncode == 0, made.stderr
    public = made.stdout.strip()
    assert key.stat().st_mode & 0o077 == 0  # only the signer may read it
    assert python_module("hub", "release-key", "new", str(key)).returncode == 1  # never overwritten
    wheel = tmp_path / "salaklang-9.2.0-py3-none-any.whl"
    wheel.write_bytes(WHEEL)
    signed = python_module("hub", "release-key", "sign", str(key), str(wheel))
    assert signed.returncode == 0, signed.stderr
    verify_package(WHEEL, signed.stdout.strip(), public)
    assert python_module("hub", "release-key", "public", str(key)).stdout.strip() == public
