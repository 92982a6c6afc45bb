"""Content routes through a real running hub: uploads, the library, pages, the stage, refusals."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from PIL import Image

from hub.content.keys import CONTENT
from tests.conftest import HubHandle
from tests.hub.content.conftest import TILE_H, TILE_W, UPLOAD_LIMIT
from tests.hub.content.contentkit import corrupt_pdf_bytes, files_under, pdf_bytes, png_bytes

CONF = 41


def _form(data: bytes, name: str, browser: bool = False) -> aiohttp.FormData:
    # browser=True: the name goes as raw UTF-8, as browsers send it; else aiohttp percent-encodes it.
    form = aiohttp.FormData(quote_fields=not browser)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def _upload(http: aiohttp.ClientSession, hub: HubHandle, data: bytes, name: str,
                  role: str = "operator", query: str = "", browser: bool = False) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{hub.url}/api/v1/conferences/{CONF}/content{query}", data=_form(data, name, browser),
                         headers=hub.auth(role)) as resp:
        return resp.status, await resp.json()


async def _settled(http: aiohttp.ClientSession, hub: HubHandle, item_id: int) -> dict[str, Any]:
    for _ in range(600):
        async with http.get(f"{hub.url}/api/v1/content/{item_id}", headers=hub.auth("viewer")) as resp:
            body: dict[str, Any] = await resp.json()
        if body["status"] != "converting":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("conversion did not finish")


async def _stage(http: aiohttp.ClientSession, hub: HubHandle, verb: str, body: dict[str, Any] | None = None,
                 role: str = "operator") -> tuple[int, dict[str, Any]]:
    async with http.post(f"{hub.url}/api/v1/conferences/{CONF}/content/stage/{verb}", json=body or {},
                         headers=hub.auth(role)) as resp:
        return resp.status, await resp.json()


def _refusal(body: dict[str, Any], code: str) -> None:
    assert body["code"] == code, body
    assert any("\u0e00" <= c <= "\u0e7f" for c in body["th"]) and body["en"]
    assert body["error"] == f"{body['th']} / {body['en']}"


def _nothing_written(hub: HubHandle) -> bool:
    root = hub.app[CONTENT].root
    return not [p for sub in ("tmp", "work", "originals", "pages") for p in files_under(root / sub)]


async def test_upload_library_pages_and_the_stage(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    deck = pdf_bytes(3)
    status, item = await _upload(http, hub, deck, "แผนงาน สงกรานต์.pdf", query="?series_id=7")
    assert status == 202 and item["status"] == "converting" and item["series_id"] == 7
    item = await _settled(http, hub, item["id"])
    assert item["status"] == "ready" and item["pages"] == 3 and item["name"] == "แผนงาน สงกรานต์.pdf"
    assert len(item["sha256"]) == 64 and item["uploaded_by"] == "operator:operator"
    status, same = await _upload(http, hub, deck, "แผนงาน สงกรานต์.pdf", browser=True)
    assert status == 202 and same["name"] == item["name"] and same["status"] == "ready"  # converted once

    for url in (f"/api/v1/conferences/{CONF}/content", "/api/v1/series/7/content"):
        async with http.get(hub.url + url, headers=hub.auth("viewer")) as resp:
            assert resp.status == 200
            ids = [i["id"] for i in (await resp.json())["items"]]
            assert item["id"] in ids and (same["id"] in ids) == url.endswith(f"{CONF}/content")

    async with http.get(hub.url + item["page_urls"][1], headers=hub.auth("viewer")) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert Image.open(io.BytesIO(await resp.read())).size == (TILE_W, TILE_H)
    async with http.get(f"{hub.url}/api/v1/content/{item['id']}/pages/4", headers=hub.auth("viewer")) as resp:
        assert resp.status == 400
        _refusal(await resp.json(), "page_out_of_range")

    status, shown = await _stage(http, hub, "show", {"item_id": item["id"], "layout": "3x3"})
    assert status == 200 and shown["layout"] == "presentation" and shown["layout_before"] == "3x3"
    assert shown["showing"]["page"] == 1 and shown["image_url"].endswith("/pages/1")
    for verb, body, page in (("next", None, 2), ("next", None, 3), ("next", None, 3), ("prev", None, 2),
                             ("goto", {"page": 1}, 1)):
        status, out = await _stage(http, hub, verb, body)
        assert status == 200 and out["showing"]["page"] == page, (verb, out)
    status, out = await _stage(http, hub, "goto", {"page": 9})
    assert status == 400
    _refusal(out, "page_out_of_range")
    status, out = await _stage(http, hub, "play")
    assert status == 409
    _refusal(out, "not_a_clip")
    async with http.get(f"{hub.url}/api/v1/conferences/{CONF}/content/stage", headers=hub.auth("viewer")) as resp:
        assert (await resp.json())["showing"]["page"] == 1
    status, out = await _stage(http, hub, "end")
    assert status == 200 and out["layout"] == "3x3" and out["showing"] is None
    status, out = await _stage(http, hub, "next")
    assert status == 409
    _refusal(out, "nothing_shown")


async def test_roles_viewers_read_operators_change(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    status, _ = await _upload(http, hub, pdf_bytes(1), "a.pdf", role="viewer")
    assert status == 403
    status, _ = await _stage(http, hub, "end", role="viewer")
    assert status == 403
    async with http.get(f"{hub.url}/api/v1/conferences/{CONF}/content") as resp:
        assert resp.status == 401
    assert _nothing_written(hub)


async def test_bad_uploads_are_refused_in_thai_and_english_and_leave_nothing(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    cases = [
        (png_bytes(), "slides.pdf", 415, "magic_mismatch"),
        (b"MZ\x90\x00", "setup.exe", 415, "unsupported_type"),
        (pdf_bytes(1), "../../../etc/cron.d/x.pdf", 400, "bad_name"),
        (pdf_bytes(1), "..\\..\\windows\\x.pdf", 400, "bad_name"),
        (b"", "empty.pdf", 422, "empty_file"),
    ]
    for data, name, status, code in cases:
        for browser in (False, True):
            got, body = await _upload(http, hub, data, name, browser=browser)
            assert got == status, (name, browser, body)
            _refusal(body, code)
    async with http.post(f"{hub.url}/api/v1/conferences/{CONF}/content", json={"file": "x"},
                         headers=hub.auth("operator")) as resp:
        assert resp.status == 400
        _refusal(await resp.json(), "no_file")
    assert _nothing_written(hub)


async def test_an_upload_over_the_limit_is_refused_without_being_stored(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    big = b"%PDF-1.4\n" + b"0" * (UPLOAD_LIMIT + 1)
    got, body = await _upload(http, hub, big, "huge.pdf")  # declared length: refused before reading
    assert got == 413
    _refusal(body, "too_large")

    async def chunked() -> AsyncIterator[bytes]:  # no length declared: refused while reading
        yield b"%PDF-1.4\n"
        for _ in range(UPLOAD_LIMIT // (64 * 1024) + 4):
            yield b"0" * (64 * 1024)

    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(chunked(), {"Content-Type": "application/pdf"})
    part.set_content_disposition("form-data", name="file", filename="huge.pdf")
    async with http.post(f"{hub.url}/api/v1/conferences/{CONF}/content", data=writer,
                         headers=hub.auth("operator")) as resp:
        assert resp.status == 413
        _refusal(await resp.json(), "too_large")
    assert _nothing_written(hub)


async def test_a_corrupt_file_fails_and_the_briefing_goes_on(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    status, good = await _upload(http, hub, pdf_bytes(2), "ok.pdf")
    good = await _settled(http, hub, good["id"])
    status, _ = await _stage(http, hub, "show", {"item_id": good["id"]})
    assert status == 200
    status, bad = await _upload(http, hub, corrupt_pdf_bytes(), "broken.pdf")
    assert status == 202
    bad = await _settled(http, hub, bad["id"])
    assert bad["status"] == "failed" and bad["error_code"] == "corrupt_document"
    assert "ไฟล์เสียหาย" in bad["error"] and "corrupt" in bad["error"]
    status, out = await _stage(http, hub, "show", {"item_id": bad["id"]})
    assert status == 409
    _refusal(out, "not_ready")
    status, out = await _stage(http, hub, "next")  # what was shown is still there and still steps
    assert status == 200 and out["showing"]["item_id"] == good["id"] and out["showing"]["page"] == 2


async def test_malformed_requests_get_4xx_never_5xx(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    checks = [
        ("POST", f"/api/v1/conferences/{CONF}/content/stage/show", "not json", 400),
        ("POST", f"/api/v1/conferences/{CONF}/content/stage/show", '{"item_id": "x"}', 400),
        ("POST", f"/api/v1/conferences/{CONF}/content/stage/show", '{"item_id": 999}', 404),
        ("POST", f"/api/v1/conferences/{CONF}/content/stage/seek", '{"position_s": -1}', 400),
        ("POST", f"/api/v1/conferences/{CONF}/content/stage/explode", "{}", 400),
        ("POST", "/api/v1/conferences/abc/content/stage/next", "{}", 404),  # a malformed id names no conference (hub.web.params)
        ("GET", "/api/v1/content/999", None, 404),
        ("GET", "/api/v1/content/zero/pages/1", None, 404),
    ]
    for method, path, body, status in checks:
        async with http.request(method, hub.url + path, data=body, headers=hub.auth("operator")) as resp:
            assert resp.status == status, (path, body, await resp.text())
            assert (await resp.json())["error"]  # every refusal is a JSON body with its reason
