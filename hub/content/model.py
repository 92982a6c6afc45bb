"""Content shown in a briefing: what may be uploaded, and the state of what is on screen.

Pure: no I/O, no clock. The service reads files and passes bytes in; it reads
the monotonic clock and passes seconds in. Everything here is decided from
its arguments, so it is tested directly.

Three parts:
- upload rules: kinds, extension ↔ magic bytes, safe names, the size limit;
- :class:`Stage`: per conference, what is shown (a page of a document, a
  photo or a clip), page stepping, clip play/pause/seek, and the layout to
  return to when content ends;
- :class:`ContentError`: every refusal, with Thai and English text.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

# --- kinds -----------------------------------------------------------------------------


class Kind(enum.StrEnum):
    PDF = "pdf"
    PPTX = "pptx"
    PPT = "ppt"
    ODP = "odp"
    DOCX = "docx"
    JPEG = "jpeg"
    PNG = "png"
    MP4 = "mp4"
    SCREEN = "screen"  # a district's live screen: never uploaded (no extension names it)


class Category(enum.StrEnum):
    DOCUMENT = "document"  # pages rendered from a PDF (office files become a PDF first)
    PHOTO = "photo"  # one page
    CLIP = "clip"  # plays with sound; a poster frame stands for it while paused
    SCREEN = "screen"  # a district's screen, live from its agent


EXTENSIONS: dict[str, Kind] = {
    "pdf": Kind.PDF, "pptx": Kind.PPTX, "ppt": Kind.PPT, "odp": Kind.ODP, "docx": Kind.DOCX,
    "jpg": Kind.JPEG, "jpeg": Kind.JPEG, "png": Kind.PNG, "mp4": Kind.MP4,
}
OFFICE: frozenset[Kind] = frozenset({Kind.PPTX, Kind.PPT, Kind.ODP, Kind.DOCX})
ZIPPED: frozenset[Kind] = frozenset({Kind.PPTX, Kind.ODP, Kind.DOCX})


def category(kind: Kind) -> Category:
    if kind in (Kind.JPEG, Kind.PNG):
        return Category.PHOTO
    if kind is Kind.MP4:
        return Category.CLIP
    if kind is Kind.SCREEN:
        return Category.SCREEN
    return Category.DOCUMENT


# --- refusals ----------------------------------------------------------------------------

# code → (Thai, English). Thai first: the operator and the clerk read Thai.
MESSAGES: dict[str, tuple[str, str]] = {
    "bad_name": ("ชื่อไฟล์ไม่ถูกต้อง (ห้ามมีเครื่องหมาย / \\ หรือ ..)",
                 "invalid file name (no /, \\ or .. allowed)"),
    "unsupported_type": ("ไม่รองรับไฟล์ชนิดนี้ ใช้ได้: PDF, PPTX, PPT, ODP, DOCX, JPEG, PNG, MP4",
                         "unsupported file type; allowed: PDF, PPTX, PPT, ODP, DOCX, JPEG, PNG, MP4"),
    "magic_mismatch": ("เนื้อไฟล์ไม่ตรงกับนามสกุล", "the file's content does not match its extension"),
    "too_large": ("ไฟล์ใหญ่เกินกำหนด", "the file is larger than the limit"),
    "empty_file": ("ไฟล์ว่างเปล่า", "the file is empty"),
    "no_file": ("ไม่พบไฟล์ในคำขอ (ช่อง file)", "no file in the request (field 'file')"),
    "corrupt_document": ("ไฟล์เสียหาย เปิดหรือแปลงไม่ได้", "the file is corrupt and cannot be converted"),
    "corrupt_image": ("รูปภาพเสียหายหรือใหญ่เกินไป", "the picture is corrupt or too large"),
    "corrupt_clip": ("คลิปวิดีโอเสียหาย เล่นไม่ได้", "the video clip is corrupt and cannot be played"),
    "conversion_timeout": ("แปลงไฟล์นานเกินกำหนด จึงหยุดการแปลง", "conversion took too long and was stopped"),
    "no_pages": ("เอกสารไม่มีหน้าให้แสดง", "the document has no pages to show"),
    "too_many_pages": ("เอกสารมีหน้ามากเกินกำหนด", "the document has more pages than allowed"),
    "not_found": ("ไม่พบไฟล์นำเสนอ", "no such content"),
    "not_ready": ("ไฟล์ยังแปลงไม่เสร็จหรือแปลงไม่สำเร็จ", "the content is not converted (yet)"),
    "nothing_shown": ("ยังไม่ได้แสดงเนื้อหาใด", "no content is being shown"),
    "page_out_of_range": ("ไม่มีหน้านี้", "no such page"),
    "not_a_clip": ("สิ่งที่แสดงอยู่ไม่ใช่คลิปวิดีโอ", "what is shown is not a clip"),
    "bad_request": ("คำขอไม่ถูกต้อง", "bad request"),
    # a district presenting (hub.content.district)
    "no_briefing": ("ขณะนี้ไม่มีการประชุมที่อำเภอของท่านเข้าร่วม จึงยังนำเสนอไม่ได้",
                    "no briefing with your district is running, so nothing can be presented"),
    "district_not_allowed": ("ขออภัย ขณะนี้ยังนำเสนอไม่ได้ อำเภออื่นกำลังพูดอยู่และประธานยังไม่ได้อนุญาต "
                             "กรุณาขอพูดหรือรอประธานอนุญาต",
                             "sorry, you cannot present yet: another district has the floor and the chair "
                             "has not allowed it; please raise your hand or wait for the chair"),
    "not_sharing": ("อำเภอของท่านไม่ได้แชร์หน้าจออยู่", "your district is not sharing its screen"),
    "not_yours": ("เนื้อหาที่แสดงอยู่ไม่ใช่ของอำเภอท่าน จึงเปลี่ยนหน้าไม่ได้",
                  "the content on screen is not your district's, so you cannot step it"),
}


class ContentError(ValueError):
    """A refusal the user sees: a stable code and its Thai and English text."""

    def __init__(self, code: str, detail: str = "") -> None:
        th, en = MESSAGES[code]
        self.code = code
        self.detail = detail
        self.th = th + (f" ({detail})" if detail else "")
        self.en = en + (f" ({detail})" if detail else "")
        super().__init__(f"{self.th} / {self.en}")


# --- upload rules ------------------------------------------------------------------------

MAX_NAME_CHARS = 200
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
# What a head of this many bytes must hold for every check below.
HEAD_BYTES = 1024

# [Content_Types].xml names the main part's type; that is what makes a zip a PPTX or DOCX.
OOXML_MAIN: dict[Kind, str] = {
    Kind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    Kind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
}
ODF_MIMETYPE = "application/vnd.oasis.opendocument.presentation"


def safe_name(original: str) -> str:
    """The name as shown in the library; a name that tries to leave its folder is refused.

    The file is stored under its SHA-256, never under this name; refusing
    instead of cleaning keeps the audit honest about what was sent.
    """
    name = unicodedata.normalize("NFC", original).strip()
    if (
        not name
        or len(name) > MAX_NAME_CHARS
        or "/" in name
        or "\\" in name
        or name in (".", "..")
        or name.startswith(".")  # "..", ".hidden": never a document someone means to show
        or any(unicodedata.category(c) in ("Cc", "Cf") for c in name)
        or (len(name) > 1 and name[1] == ":")  # C:evil.pdf, a drive-relative Windows path
    ):
        raise ContentError("bad_name")
    return name


def kind_of(name: str) -> Kind:
    """The kind the extension claims; the content is checked by :func:`check_magic`."""
    _, dot, ext = name.rpartition(".")
    kind = EXTENSIONS.get(ext.lower()) if dot else None
    if kind is None:
        raise ContentError("unsupported_type")
    return kind


@dataclass(frozen=True)
class ZipFacts:
    """What the service read from a zip's directory: the two members that name its type."""

    mimetype: str | None  # ODF: the stored "mimetype" member
    content_types: str | None  # OOXML: "[Content_Types].xml"


def check_magic(kind: Kind, head: bytes, zip_facts: ZipFacts | None = None) -> None:
    """Refuse a file whose first bytes (and, for zips, named members) do not match ``kind``."""
    ok: bool
    if kind is Kind.PDF:
        ok = b"%PDF-" in head[:HEAD_BYTES]  # the spec allows junk before the header
    elif kind is Kind.PPT:
        ok = head.startswith(OLE2_MAGIC)
    elif kind is Kind.JPEG:
        ok = head.startswith(b"\xff\xd8\xff")
    elif kind is Kind.PNG:
        ok = head.startswith(PNG_MAGIC)
    elif kind is Kind.MP4:
        ok = len(head) >= 12 and head[4:8] == b"ftyp"
    elif kind in ZIPPED:
        ok = head.startswith(ZIP_MAGIC) and zip_facts is not None and _zip_matches(kind, zip_facts)
    else:  # pragma: no cover - every Kind is listed above
        ok = False
    if not ok:
        raise ContentError("magic_mismatch", kind.value.upper())


def _zip_matches(kind: Kind, facts: ZipFacts) -> bool:
    if kind is Kind.ODP:
        return (facts.mimetype or "").strip() == ODF_MIMETYPE
    return OOXML_MAIN[kind] in (facts.content_types or "")


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise ContentError("too_large", f"{size} > {limit} bytes")
    if size == 0:
        raise ContentError("empty_file")


def fit(src_w: float, src_h: float, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest size with the source's aspect that fits in the box (letterboxed, never cropped)."""
    if src_w <= 0 or src_h <= 0:
        raise ContentError("corrupt_document", "page has no size")
    scale = min(box_w / src_w, box_h / src_h)
    return max(1, min(box_w, round(src_w * scale))), max(1, min(box_h, round(src_h * scale)))


# --- the stage: what a conference shows ----------------------------------------------------


class ClipStatus(enum.StrEnum):
    PAUSED = "paused"
    PLAYING = "playing"
    ENDED = "ended"


@dataclass(frozen=True)
class Clip:
    """A clip's play head, kept as (position at an instant, playing?) so no timer is needed.

    ``at`` is the caller's monotonic clock when ``position_s`` was true.
    """

    duration_s: float
    position_s: float = 0.0
    at: float = 0.0
    playing: bool = False

    def position(self, now: float) -> float:
        if not self.playing:
            return self.position_s
        return min(self.duration_s, self.position_s + max(0.0, now - self.at))

    def status(self, now: float) -> ClipStatus:
        if self.duration_s > 0 and self.position(now) >= self.duration_s:
            return ClipStatus.ENDED
        return ClipStatus.PLAYING if self.playing else ClipStatus.PAUSED

    def play(self, now: float) -> Clip:
        start = self.position(now)
        if start >= self.duration_s:
            start = 0.0  # play after the end starts again, as every player does
        return replace(self, position_s=start, at=now, playing=True)

    def pause(self, now: float) -> Clip:
        return replace(self, position_s=self.position(now), at=now, playing=False)

    def seek(self, position_s: float, now: float) -> Clip:
        if position_s != position_s:  # NaN
            raise ContentError("bad_request", "position")
        return replace(self, position_s=min(max(0.0, position_s), self.duration_s), at=now)


@dataclass(frozen=True)
class Showing:
    """One item on screen: which page, or which clip position."""

    item_id: int
    kind: Kind
    pages: int  # 1 for a photo or a clip (its poster)
    page: int = 1
    clip: Clip | None = None
    screen: str | None = None  # Kind.SCREEN: the district whose screen is shown

    @property
    def category(self) -> Category:
        return category(self.kind)


class Change(enum.StrEnum):
    SHOW = "show"  # new content on screen (the layout goes to presentation)
    PAGE = "page"  # another page of the same content: new picture, keyframe
    CLIP = "clip"  # play, pause or seek
    END = "end"  # content gone: back to the layout before it
    NONE = "none"  # nothing changed (next on the last page)


@dataclass
class Stage:
    """What one conference shows. ``version`` grows on every visible change.

    ``layout_before`` is the layout that was on screen when content first
    came up; switching from one item to another keeps it, so ending content
    goes back to the layout the operator had, not to "presentation".
    """

    showing: Showing | None = None
    version: int = 0
    layout_before: str | None = None
    history: list[int] = field(default_factory=list)  # item ids, in the order shown

    def _bump(self, change: Change) -> Change:
        self.version += 1
        return change

    def show(self, item_id: int, kind: Kind, pages: int, *, layout_now: str | None,
             duration_s: float = 0.0, page: int = 1) -> Change:
        if pages < 1:
            raise ContentError("no_pages")
        if not 1 <= page <= pages:
            raise ContentError("page_out_of_range", f"1–{pages}")
        if self.showing is None:
            self.layout_before = layout_now
        clip = Clip(duration_s=max(0.0, duration_s)) if category(kind) is Category.CLIP else None
        self.showing = Showing(item_id, kind, pages, page, clip)
        self.history.append(item_id)
        return self._bump(Change.SHOW)

    def share_screen(self, site: str, *, layout_now: str | None) -> Change:
        """A district's live screen on the content tile (item id 0: nothing of the library)."""
        if self.showing is None:
            self.layout_before = layout_now
        self.showing = Showing(0, Kind.SCREEN, 1, screen=site)
        return self._bump(Change.SHOW)

    def screen_of(self) -> str | None:
        """The district whose screen is shown, None when the stage shows no screen."""
        return self.showing.screen if self.showing is not None else None

    def _current(self) -> Showing:
        if self.showing is None:
            raise ContentError("nothing_shown")
        return self.showing

    def goto(self, page: int) -> Change:
        now = self._current()
        if not 1 <= page <= now.pages:
            raise ContentError("page_out_of_range", f"1–{now.pages}")
        if page == now.page:
            return Change.NONE
        self.showing = replace(now, page=page)
        return self._bump(Change.PAGE)

    def next(self) -> Change:
        """One page on; on the last page nothing happens (a double press must not fail)."""
        now = self._current()
        return self.goto(now.page + 1) if now.page < now.pages else Change.NONE

    def prev(self) -> Change:
        now = self._current()
        return self.goto(now.page - 1) if now.page > 1 else Change.NONE

    def _clip(self) -> tuple[Showing, Clip]:
        now = self._current()
        if now.clip is None:
            raise ContentError("not_a_clip")
        return now, now.clip

    def play(self, now: float) -> Change:
        shown, clip = self._clip()
        self.showing = replace(shown, clip=clip.play(now))
        return self._bump(Change.CLIP)

    def pause(self, now: float) -> Change:
        shown, clip = self._clip()
        self.showing = replace(shown, clip=clip.pause(now))
        return self._bump(Change.CLIP)

    def seek(self, position_s: float, now: float) -> Change:
        shown, clip = self._clip()
        self.showing = replace(shown, clip=clip.seek(position_s, now))
        return self._bump(Change.CLIP)

    def end(self) -> tuple[Change, str | None]:
        """Take content off; returns the layout to go back to (None: the caller's default)."""
        self._current()
        restore, self.layout_before, self.showing = self.layout_before, None, None
        return self._bump(Change.END), restore

    def snapshot(self, now: float) -> dict[str, object]:
        """A JSON-ready view of the stage at ``now`` (for the page and the API)."""
        shown = self.showing
        out: dict[str, object] = {"version": self.version, "layout_before": self.layout_before,
                                  "showing": None}
        if shown is not None:
            clip: Mapping[str, object] | None = None
            if shown.clip is not None:
                clip = {"duration_s": shown.clip.duration_s, "position_s": round(shown.clip.position(now), 3),
                        "status": shown.clip.status(now).value}
            out["showing"] = {"item_id": shown.item_id, "kind": shown.kind.value,
                              "category": shown.category.value, "page": shown.page,
                              "pages": shown.pages, "clip": clip, "screen": shown.screen}
        return out
