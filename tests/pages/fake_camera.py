"""A fake camera for Chromium: a badge's QR code as a `.y4m` video file.

Chromium plays it in a loop as the camera (`--use-fake-device-for-media-stream
--use-file-for-fake-video-capture=FILE`), so the scanner page decodes a real QR code
from real video frames, as it would from a phone held up to a badge.
"""

from __future__ import annotations

from pathlib import Path

import segno

WIDTH, HEIGHT = 640, 480
BLACK, WHITE = 16, 235  # video-range luma
NEUTRAL = 128  # no colour


def qr_luma(text: str, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """One grey frame (luma plane) with `text`'s QR code centred, quiet zone included,
    each module a whole number of pixels (as sharp as a printed badge)."""
    matrix = segno.make(text, error="m").matrix
    modules = len(matrix) + 8  # a 4-module quiet zone each side
    scale = max(1, min(width, height) * 9 // 10 // modules)
    left = (width - len(matrix) * scale) // 2
    top = (height - len(matrix) * scale) // 2
    frame = bytearray([WHITE]) * (width * height)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for y in range(top + r * scale, top + (r + 1) * scale):
                    start = y * width + left + c * scale
                    frame[start : start + scale] = bytes([BLACK]) * scale
    return bytes(frame)


def write_y4m(path: Path, text: str, frames: int = 10, fps: int = 10) -> Path:
    """A `.y4m` (YUV 4:2:0) of `frames` identical frames showing `text`'s QR code."""
    luma = qr_luma(text)
    chroma = bytes([NEUTRAL]) * ((WIDTH // 2) * (HEIGHT // 2) * 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma)
    return path
