"""The content model, pure: upload rules, page stepping, clip play head, layout bookkeeping."""

from __future__ import annotations

import pytest

from hub.content.model import (
    MESSAGES,
    Change,
    ClipStatus,
    ContentError,
    Kind,
    Stage,
    ZipFacts,
    check_magic,
    check_size,
    fit,
    kind_of,
    safe_name,
)
from tests.hub.content.contentkit import jpeg_bytes, pdf_bytes, png_bytes, pptx_bytes

# --- names and kinds ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "../../etc/passwd.pdf", "..\\..\\boot.ini.pdf", "/etc/passwd.pdf", "slides/../../x.pdf",
    "C:\\Users\\clerk\\x.pdf", "C:x.pdf", "..", ".", ".hidden.pdf", "", "   ", "a\x00b.pdf",
    "rtl\u202egnp.pdf", "x" * 201 + ".pdf",
])
def test_names_that_leave_their_folder_or_hide_are_refused(name: str) -> None:
    with pytest.raises(ContentError) as err:
        safe_name(name)
    assert err.value.code == "bad_name"
    assert "ชื่อไฟล์" in err.value.th and "file name" in err.value.en


def test_thai_names_are_kept_as_sent_in_nfc() -> None:
    decomposed = "สรุปผล\u0e33.pdf"  # SARA AM composed by NFC stays one character
    assert safe_name("  รายงานสงกรานต์ 2569.pptx ") == "รายงานสงกรานต์ 2569.pptx"
    assert safe_name(decomposed).endswith(".pdf")
    assert safe_name("report..final.pdf") == "report..final.pdf"  # dots inside a name go nowhere


@pytest.mark.parametrize(("name", "kind"), [
    ("a.PDF", Kind.PDF), ("a.pptx", Kind.PPTX), ("a.ppt", Kind.PPT), ("a.odp", Kind.ODP),
    ("a.docx", Kind.DOCX), ("a.JPG", Kind.JPEG), ("a.jpeg", Kind.JPEG), ("a.png", Kind.PNG),
    ("a.mp4", Kind.MP4),
])
def test_extensions_name_their_kind(name: str, kind: Kind) -> None:
    assert kind_of(name) is kind


@pytest.mark.parametrize("name", ["setup.exe", "virus.pdf.exe", "notes.txt", "noextension", "clip.mov"])
def test_other_types_are_unsupported(name: str) -> None:
    with pytest.raises(ContentError) as err:
        kind_of(name)
    assert err.value.code == "unsupported_type" and "PDF" in err.value.en and "ไม่รองรับ" in err.value.th


# --- magic bytes -------------------------------------------------------------------------

PPTX_TYPES = ZipFacts(mimetype=None, content_types=(
    '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.'
    'presentationml.presentation.main+xml"/></Types>'))
DOCX_TYPES = ZipFacts(mimetype=None, content_types=(
    '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.'
    'wordprocessingml.document.main+xml"/></Types>'))
ODP = ZipFacts(mimetype="application/vnd.oasis.opendocument.presentation", content_types=None)
ODT = ZipFacts(mimetype="application/vnd.oasis.opendocument.text", content_types=None)


def test_each_kind_accepts_its_own_signature() -> None:
    check_magic(Kind.PDF, pdf_bytes(1)[:1024])
    check_magic(Kind.PDF, b"\r\n junk before the header %PDF-1.4\n")
    check_magic(Kind.PPT, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    check_magic(Kind.JPEG, jpeg_bytes()[:1024])
    check_magic(Kind.PNG, png_bytes()[:1024])
    check_magic(Kind.MP4, b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00")
    check_magic(Kind.PPTX, pptx_bytes()[:1024], PPTX_TYPES)
    check_magic(Kind.DOCX, b"PK\x03\x04rest", DOCX_TYPES)
    check_magic(Kind.ODP, b"PK\x03\x04rest", ODP)


@pytest.mark.parametrize(("kind", "head", "facts"), [
    (Kind.PDF, png_bytes()[:1024], None),  # a picture renamed .pdf
    (Kind.PNG, jpeg_bytes()[:1024], None),
    (Kind.JPEG, b"%PDF-1.7", None),
    (Kind.MP4, b"\x00\x00\x00\x20moov", None),
    (Kind.PPT, b"PK\x03\x04", None),
    (Kind.PPTX, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", PPTX_TYPES),  # an old .ppt renamed .pptx
    (Kind.PPTX, b"PK\x03\x04", DOCX_TYPES),  # a Word file renamed .pptx
    (Kind.PPTX, b"PK\x03\x04", ZipFacts(None, None)),  # any zip
    (Kind.ODP, b"PK\x03\x04", ODT),
    (Kind.DOCX, b"PK\x03\x04", None),
])
def test_content_that_does_not_match_the_extension_is_refused(kind: Kind, head: bytes, facts: ZipFacts | None) -> None:
    with pytest.raises(ContentError) as err:
        check_magic(kind, head, facts)
    assert err.value.code == "magic_mismatch"
    assert "นามสกุล" in err.value.th and "extension" in err.value.en


def test_size_limit_and_empty_files() -> None:
    check_size(100, 100)
    with pytest.raises(ContentError, match="larger than the limit"):
        check_size(101, 100)
    with pytest.raises(ContentError, match="empty"):
        check_size(0, 100)


def test_every_message_has_thai_and_english() -> None:
    for code, (th, en) in MESSAGES.items():
        assert th and en and th != en, code
        assert any("\u0e00" <= c <= "\u0e7f" for c in th), code


def test_fit_keeps_the_aspect_inside_the_tile() -> None:
    assert fit(1920, 1080, 960, 540) == (960, 540)
    assert fit(595, 842, 960, 540) == (382, 540)  # A4 portrait: pillarboxed
    assert fit(4000, 1000, 960, 540) == (960, 240)
    assert fit(100, 50, 960, 540) == (960, 480)  # small pictures are scaled up to the tile


# --- the stage -----------------------------------------------------------------------------


def test_page_stepping_stays_within_the_document() -> None:
    stage = Stage()
    assert stage.show(7, Kind.PDF, 3, layout_now="4x5") is Change.SHOW
    assert stage.showing is not None and stage.showing.page == 1
    assert stage.prev() is Change.NONE  # at the first page: nothing happens, nothing fails
    assert (stage.next(), stage.next()) == (Change.PAGE, Change.PAGE)
    v = stage.version
    assert stage.next() is Change.NONE and stage.version == v  # last page: no new version
    assert stage.showing.page == 3
    assert stage.goto(1) is Change.PAGE and stage.showing.page == 1
    assert stage.goto(1) is Change.NONE
    for bad in (0, 4, -1):
        with pytest.raises(ContentError) as err:
            stage.goto(bad)
        assert err.value.code == "page_out_of_range"
    assert stage.showing.page == 1


def test_nothing_shown_is_a_clear_refusal() -> None:
    stage = Stage()
    for action in (stage.next, stage.prev, stage.end):
        with pytest.raises(ContentError) as err:
            action()
        assert err.value.code == "nothing_shown"
    with pytest.raises(ContentError):
        stage.show(1, Kind.PDF, 0, layout_now="speaker")
    with pytest.raises(ContentError):
        stage.show(1, Kind.PDF, 2, layout_now="speaker", page=3)


def test_end_returns_the_layout_from_before_content_even_after_switching_items() -> None:
    stage = Stage()
    stage.show(1, Kind.PDF, 2, layout_now="3x3")
    # The program is in presentation now; a second item must not remember "presentation".
    stage.show(2, Kind.PNG, 1, layout_now="presentation")
    change, restore = stage.end()
    assert (change, restore) == (Change.END, "3x3")
    assert stage.showing is None and stage.history == [1, 2]
    stage.show(3, Kind.JPEG, 1, layout_now="speaker")
    assert stage.end()[1] == "speaker"


def test_versions_grow_on_every_visible_change() -> None:
    stage = Stage()
    versions = [stage.version]
    stage.show(1, Kind.PDF, 5, layout_now=None)
    versions.append(stage.version)
    stage.goto(4)
    versions.append(stage.version)
    stage.end()
    versions.append(stage.version)
    assert versions == sorted(set(versions))


def test_clip_play_head_follows_the_times_passed_in() -> None:
    stage = Stage()
    stage.show(9, Kind.MP4, 1, layout_now="speaker", duration_s=10.0)
    assert stage.showing is not None and stage.showing.clip is not None
    clip = stage.showing.clip
    assert clip.position(100.0) == 0.0 and clip.status(100.0) is ClipStatus.PAUSED
    stage.play(now=100.0)
    clip = stage.showing.clip
    assert clip is not None and clip.position(103.5) == pytest.approx(3.5)
    assert clip.status(103.5) is ClipStatus.PLAYING
    stage.pause(now=104.0)
    clip = stage.showing.clip
    assert clip is not None and clip.position(500.0) == pytest.approx(4.0)  # paused: the head stays
    stage.seek(8.0, now=600.0)
    stage.play(now=600.0)
    clip = stage.showing.clip
    assert clip is not None and clip.position(605.0) == 10.0 and clip.status(605.0) is ClipStatus.ENDED
    stage.play(now=700.0)  # play after the end starts again
    clip = stage.showing.clip
    assert clip is not None and clip.position(701.0) == pytest.approx(1.0)
    stage.seek(-5, now=702.0)
    assert stage.showing.clip is not None and stage.showing.clip.position(702.0) == 0.0
    stage.seek(99, now=702.0)
    assert stage.showing.clip is not None and stage.showing.clip.position_s == 10.0
    with pytest.raises(ContentError):
        stage.seek(float("nan"), now=702.0)


def test_clip_controls_refuse_a_document() -> None:
    stage = Stage()
    stage.show(1, Kind.PDF, 2, layout_now=None)
    for call in (lambda: stage.play(1.0), lambda: stage.pause(1.0), lambda: stage.seek(1.0, 1.0)):
        with pytest.raises(ContentError) as err:
            call()
        assert err.value.code == "not_a_clip"


def test_snapshot_reports_the_play_head_at_the_time_given() -> None:
    stage = Stage()
    stage.show(4, Kind.MP4, 1, layout_now="2x2", duration_s=30.0)
    stage.play(now=10.0)
    snap = stage.snapshot(now=12.5)
    assert snap["layout_before"] == "2x2"
    showing = snap["showing"]
    assert isinstance(showing, dict) and showing["category"] == "clip"
    assert showing["clip"] == {"duration_s": 30.0, "position_s": 2.5, "status": "playing"}
