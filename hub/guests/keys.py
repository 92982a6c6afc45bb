"""Typed app keys of the guests room."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from hub.guests.service import GuestService

GUESTS: web.AppKey[GuestService] = web.AppKey("guests")
