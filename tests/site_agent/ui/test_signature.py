"""Signed updates: with the province's key pinned, only packages signed by it install."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from site_agent.updater import PackageRejected, Updater, verify_signature


def keypair() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, base64.b64encode(public).decode()


def test_verify_signature(tmp_path: Path) -> None:
    wheel = tmp_path / "salaklang-9.0.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04 pretend wheel")
    private, public = keypair()
    good = base64.b64encode(private.sign(wheel.read_bytes())).decode()
    verify_signature(wheel, good, public)
    other, _ = keypair()
    forged = base64.b64encode(other.sign(wheel.read_bytes())).decode()
    with pytest.raises(PackageRejected, match="bad signature"):
        verify_signature(wheel, forged, public)
    with pytest.raises(PackageRejected, match="not signed"):
        verify_signature(wheel, "", public)
    # A PC with no pinned key installs nothing: there is no "no key, no check" mode.
    with pytest.raises(PackageRejected, match="no province key"):
        verify_signature(wheel, good, "")


async def test_download_refuses_unsigned_when_a_key_is_pinned(tmp_path: Path) -> None:
    """A real HTTP server hands out a package whose digest matches but whose signature does not."""
    body = b"PK\x03\x04 pretend wheel"
    app = web.Application()

    async def package(_request: web.Request) -> web.Response:
        return web.Response(body=body)

    app.router.add_get("/pkg", package)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    private, public = keypair()
    offer = {"version": "9.0.0", "sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "url": "/pkg",
             "filename": "salaklang-9.0.0-py3-none-any.whl"}
    updater = Updater(hub_url=f"http://127.0.0.1:{port}", site="UDN01", token="x" * 20, root=tmp_path,
                      running_version="0.1.0", guard=lambda: None, restart=lambda: None, public_key=public)
    import aiohttp

    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(PackageRejected, match="not signed"):
                await updater.download(http, offer)
            assert not any((tmp_path / "downloads").iterdir())  # the refused file is gone
            offer["signature"] = base64.b64encode(private.sign(body)).decode()
            path = await updater.download(http, offer)
            assert path.read_bytes() == body
    finally:
        await runner.cleanup()
