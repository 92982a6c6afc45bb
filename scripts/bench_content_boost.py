"""Does a bitrate boost after a page change make slide text crisper? (issue 14) — measured, not assumed.

The program encoder (hub.media.encoder.SharedVideoEncoder: libx264 ABR, ultrafast, zerolatency)
shows page A for 2 s, then page B (a forced keyframe, as the content tile asks for one) for 3 s.
Each case runs twice, without and with the bitrate raised ``--factor`` times for ``--boost-s``
seconds from the page change (``ctx.bit_rate`` on the open encoder: FFmpeg's libx264
``reconfig_encoder`` passes it to ``x264_encoder_reconfig`` on the next frame). Measured: the
bytes sent from the page change on, and the PSNR of the decoded page B against its source,
0.4 s and 2 s after the change.

Cases: ``abr`` — the encoder as the hub opens it; ``cbr`` — the same with VBV at open
(maxrate = bitrate, bufsize = 1 s), the only mode in which x264 takes a new bitrate
(``x264_ratecontrol_init_reconfigurable``: "We don't support changing the ABR bitrate right
now, so if the stream starts as CBR, keep it CBR").

    .venv/bin/python scripts/bench_content_boost.py            # 1280×720, 25 fps, 2500 kbit/s

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

from hub.media.compositor import thai_font
from hub.media.encoder import SharedVideoEncoder


def page(w: int, h: int, number: int) -> np.ndarray:
    """A slide of small Thai and English text: what blurs first at a low bitrate."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    size = max(10, h // 40)
    font = thai_font(size)
    for i in range(int(h / (size * 1.5)) - 1):
        draw.text((size, size + i * size * 1.5),
                  f"หน้า {number} รายงานสถานการณ์น้ำ อำเภอที่ {i + 1} พื้นที่ {number * 1000 + i * 37:,} ไร่ "
                  f"· flood report, district {i + 1}", font=font, fill=(0, 0, 0))
    return av.VideoFrame.from_ndarray(np.asarray(img), format="rgb24").reformat(format="yuv420p").to_ndarray()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 99.0 if mse == 0 else 10 * float(np.log10(255**2 / mse))


def run(w: int, h: int, fps: int, kbps: int, cbr: bool, factor: float, boost_s: float) -> dict[str, float]:
    enc = SharedVideoEncoder(w, h, fps, kbps)
    if cbr:
        enc.ctx.options = {**enc.ctx.options, "maxrate": str(kbps * 1000), "bufsize": str(kbps * 1000)}
    dec = av.CodecContext.create("h264", "r")
    a, b = page(w, h, 1), page(w, h, 2)
    change, end = 2 * fps, 5 * fps
    after, quality = 0, {}
    for n in range(end):
        if n == change:
            enc.gate.request()
            enc.gate.last_keyframe = -1e9  # the page change's keyframe, whatever the gate's window
            enc.ctx.bit_rate = int(kbps * 1000 * factor)
        if n == change + int(boost_s * fps):
            enc.ctx.bit_rate = kbps * 1000
        src = a if n < change else b
        for packet in enc.encode(src, n * 90_000 // fps):
            if n >= change:
                after += packet.size
            for frame in dec.decode(packet):
                if n - change in (int(0.4 * fps), 2 * fps):
                    quality[n - change] = psnr(frame.to_ndarray(format="yuv420p")[:h], b[:h])
    return {"bytes": after, "psnr_0_4s": round(quality[int(0.4 * fps)], 2), "psnr_2s": round(quality[2 * fps], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--kbps", type=int, default=2500)
    ap.add_argument("--factor", type=float, default=3.0)
    ap.add_argument("--boost-s", type=float, default=2.0)
    args = ap.parse_args()
    out: dict[str, Any] = {}
    for mode in ("abr", "cbr"):
        plain = run(args.width, args.height, args.fps, args.kbps, mode == "cbr", 1.0, args.boost_s)
        boosted = run(args.width, args.height, args.fps, args.kbps, mode == "cbr", args.factor, args.boost_s)
        print(mode, "plain", plain, "boosted", boosted)
        out[f"{mode}_boost_bytes_ratio"] = round(boosted["bytes"] / plain["bytes"], 3)
        out[f"{mode}_boost_psnr_gain_0_4s_db"] = round(boosted["psnr_0_4s"] - plain["psnr_0_4s"], 2)
        out[f"{mode}_boost_psnr_gain_2s_db"] = round(boosted["psnr_2s"] - plain["psnr_2s"], 2)
        out[f"{mode}_psnr_2s_db"] = plain["psnr_2s"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
