"""Thai first, English second: gettext catalogs (Babel) and Thai date display.

Message ids are English; ``hub/locale/th/LC_MESSAGES/messages.po`` holds the
Thai. The .po files are compiled in memory at start-up, so a checkout needs
no build step. Thai pages show Buddhist Era years (CE + 543); Babel's Thai
locale data is Gregorian, so the year is shifted here.
"""

from __future__ import annotations

import contextvars
import io
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date, get_month_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from hub.paths import LOCALE_DIR

LANGUAGES = ("th", "en")
LANGUAGE_NAMES = {"th": "ไทย", "en": "English"}


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


ROLE_LABELS = {role: N_(role) for role in ("viewer", "operator", "admin")}
BE_OFFSET = 543

current_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="th")


class Catalogs:
    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self._translations: dict[str, NullTranslations] = {}
        for lang in LANGUAGES:
            po_path = locale_dir / lang / "LC_MESSAGES" / "messages.po"
            if not po_path.exists():
                self._translations[lang] = NullTranslations()
                continue
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            self._translations[lang] = Translations(buffer)

    def get(self, lang: str) -> NullTranslations:
        return self._translations.get(lang) or self._translations["th"]

    def gettext(self, message: str) -> str:
        return self.get(current_language.get()).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.get(current_language.get()).ngettext(singular, plural, n)


# The compiled catalogs of this hub (set by hub.web.setup).
CATALOGS = web.AppKey("catalogs", Catalogs)


def to_local(value: datetime, tz: str = "Asia/Bangkok") -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz))


def format_day(value: date, lang: str) -> str:
    """'20 พ.ย. 2569' in Thai, '20 Nov 2026' in English."""
    if lang == "th":
        month = get_month_names("abbreviated", locale="th")[value.month]
        return f"{value.day} {month} {value.year + BE_OFFSET}"
    return format_date(value, "d MMM y", locale="en")


def format_datetime(value: datetime | None, lang: str, tz: str = "Asia/Bangkok") -> str:
    if value is None:
        return "—"
    local = to_local(value, tz)
    clock = local.strftime("%H:%M")
    if lang == "th":
        return f"{format_day(local.date(), lang)} {clock} น."
    return f"{format_day(local.date(), lang)} {clock}"


def format_epoch(value: float | None, lang: str, tz: str = "Asia/Bangkok") -> str:
    if value is None:
        return "—"
    return format_datetime(datetime.fromtimestamp(value, UTC), lang, tz)
