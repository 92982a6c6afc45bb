"""The poll results card: drawn over the program, in Thai, while the chair shows it.

A card is rendered once (Pillow, the compositor's Thai font with raqm shaping) into
yuv420p planes, then pasted over the composed tiles every frame: three array copies.
The control process shows and hides it with the ``poll_card`` op (hub.media.channel);
the op arrives on the worker's event loop and the render thread picks the change up at
its next frame (one attribute swap under the GIL, like the compositor's scene).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from hub.media import channel
from hub.media.compositor import Compositor, Planes, rgb_planes, split_planes, thai_font

CARD_BG = (250, 246, 232)  # warm white: unlike any tile, so the card is seen (and tested) at once
CARD_TITLE = (120, 20, 20)
CARD_TEXT = (30, 30, 30)
BAR = (196, 32, 48)  # the bars: the province's red
BAR_BG = (222, 214, 196)
_HIDE = object()


def card_rect(width: int, height: int) -> tuple[int, int, int, int]:
    """Where the card sits on a width×height program: the middle 70 % × 60 %, even-aligned."""
    w = int(width * 0.7) & ~1
    h = int(height * 0.6) & ~1
    return (width - w) // 2 & ~1, (height - h) // 2 & ~1, w, h


def render_card(op: channel.PollCard, w: int, h: int) -> np.ndarray:
    """The card as a w×h RGB picture: title, question, one bar per option with its count and share."""
    img = Image.new("RGB", (w, h), CARD_BG)
    draw = ImageDraw.Draw(img)
    pad = max(4, w // 40)
    rows = max(1, len(op.options))
    line = max(8, min(h // (rows + 4), w // 18))
    title = "ผลการลงมติ" + (" (ลับ)" if op.ballot == "secret" else "") + " · Poll result"
    y = pad
    for text, size, colour in ((title, line, CARD_TITLE), (op.question, max(8, line * 4 // 5), CARD_TEXT)):
        font = thai_font(size)
        draw.text((pad, y), text, font=font, fill=colour)
        y += int(size * 1.5)
    total = sum(op.counts) or 1
    label_w = w * 2 // 5
    font = thai_font(max(8, line * 4 // 5))
    sample = draw.textbbox((0, 0), "000 (100%)", font=font)
    bar_w = max(8, w - label_w - 4 * pad - (sample[2] - sample[0]))  # the count stands right of its bar
    for option, count in zip(op.options, op.counts, strict=False):
        draw.text((pad, y), option, font=font, fill=CARD_TEXT)
        x0 = pad + label_w
        bar_h = max(4, int(line * 0.9))
        draw.rectangle((x0, y, x0 + bar_w, y + bar_h), fill=BAR_BG)
        draw.rectangle((x0, y, x0 + int(bar_w * count / total), y + bar_h), fill=BAR)
        share = f"{count} ({100 * count / total:.0f}%)"
        draw.text((x0 + bar_w + pad, y), share, font=font, fill=CARD_TEXT)
        y += int(line * 1.4)
    draw.text((pad, h - pad - line), f"ผู้ลงมติ {op.voters} · voters {op.voters}", font=thai_font(max(8, line * 2 // 3)),
              fill=CARD_TEXT)
    return np.asarray(img, dtype=np.uint8).copy()


class ResultsCard:
    """One per compositor (:func:`of`); an overlay in the compositor's sense."""

    def __init__(self, width: int, height: int) -> None:
        self.x, self.y, self.w, self.h = card_rect(width, height)
        self.planes: Planes | None = None
        self.poll_id: int | None = None
        self._pending: object = None  # new planes, or _HIDE; taken by the render thread
        self._removed = False

    def apply(self, op: channel.PollCard) -> None:
        """The op (on the worker's event loop): render now, swap in at the next frame."""
        if op.show:
            yuv = np.empty((self.h * 3 // 2, self.w), dtype=np.uint8)
            planes = rgb_planes(render_card(op, self.w, self.h))
            for dst, src in zip(split_planes(yuv, self.w, self.h), planes, strict=True):
                dst[:] = src
            self.poll_id = op.poll_id
            self._pending = split_planes(yuv, self.w, self.h)
        else:
            self.poll_id = None
            self._pending = _HIDE

    # --- the compositor's overlay protocol (render thread) ---------------------------------------
    def before(self) -> bool:
        """Take up a change; True when the card was taken down (the tiles under it must be repainted)."""
        pending, self._pending = self._pending, None
        if pending is _HIDE:
            removed = self.planes is not None
            self.planes = None
            return removed
        if pending is not None:
            self.planes = pending  # type: ignore[assignment]
        return False

    def draw(self, canvas: Planes) -> None:
        planes = self.planes
        if planes is None:
            return
        x, y, h, w = self.x, self.y, self.h, self.w
        canvas[0][y : y + h, x : x + w] = planes[0]
        canvas[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = planes[1]
        canvas[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = planes[2]


def of(compositor: Compositor) -> ResultsCard:
    """The compositor's results card, made (and laid over its program) on first use."""
    for overlay in compositor.overlays:
        if isinstance(overlay, ResultsCard):
            return overlay
    card = ResultsCard(compositor.width, compositor.height)
    compositor.overlays.append(card)
    return card
