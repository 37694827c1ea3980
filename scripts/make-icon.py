#!/usr/bin/env python3
"""Draw the plugin's icon, .claude-plugin/icon.png (512 x 512), with the standard library.

Three sessions (coloured dots) joined to one padlock: several Claude Code sessions, one
repository, no overwritten edits. Each pixel is the average of 4 x 4 samples of simple
signed-distance shapes; the PNG is written with zlib. Run it again to regenerate:

    python3 scripts/make-icon.py [OUT]
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

SIZE = 512
SAMPLES = 4  # per axis
Color = tuple[float, float, float]
Shape = Callable[[float, float], bool]

BACKGROUND: Color = (0.12, 0.16, 0.23)
LINK: Color = (0.55, 0.62, 0.72)
LOCK: Color = (0.96, 0.97, 0.98)
SESSIONS: list[tuple[float, float, Color]] = [
    (0.50, 0.20, (0.08, 0.72, 0.65)),
    (0.22, 0.72, (0.96, 0.62, 0.04)),
    (0.78, 0.72, (0.55, 0.36, 0.96)),
]
CENTRE = (0.50, 0.55)


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> Shape:
    def inside(x: float, y: float) -> bool:
        cx = min(max(x, x0 + r), x1 - r)
        cy = min(max(y, y0 + r), y1 - r)
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r and x0 <= x <= x1 and y0 <= y <= y1
    return inside


def disc(cx: float, cy: float, r: float) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def ring_top(cx: float, cy: float, r: float, width: float) -> Shape:
    """The upper half of a ring, with straight legs down to ``cy`` (a padlock's shackle)."""
    def inside(x: float, y: float) -> bool:
        if y <= cy:
            return abs(math.hypot(x - cx, y - cy) - r) <= width / 2
        return False
    return inside


def segment(ax: float, ay: float, bx: float, by: float, width: float) -> Shape:
    def inside(x: float, y: float) -> bool:
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        return math.hypot(x - ax - t * dx, y - ay - t * dy) <= width / 2
    return inside


def layers() -> list[tuple[Shape, Color]]:
    """Back to front."""
    out: list[tuple[Shape, Color]] = [(rounded_rect(0.0, 0.0, 1.0, 1.0, 0.18), BACKGROUND)]
    for sx, sy, _ in SESSIONS:
        out.append((segment(sx, sy, *CENTRE, 0.035), LINK))
    for sx, sy, colour in SESSIONS:
        out.append((disc(sx, sy, 0.105), BACKGROUND))
        out.append((disc(sx, sy, 0.085), colour))
    cx, cy = CENTRE
    out.append((rounded_rect(cx - 0.15, cy - 0.05, cx + 0.15, cy + 0.20, 0.035), BACKGROUND))
    out.append((disc(cx, cy - 0.02, 0.13), BACKGROUND))  # the shackle's hole and margin
    out.append((ring_top(cx, cy - 0.02, 0.085, 0.045), LOCK))
    out.append((rounded_rect(cx - 0.125, cy - 0.03, cx + 0.125, cy + 0.175, 0.03), LOCK))
    out.append((disc(cx, cy + 0.055, 0.028), BACKGROUND))
    out.append((rounded_rect(cx - 0.012, cy + 0.055, cx + 0.012, cy + 0.12, 0.01), BACKGROUND))
    return out


def pixel(shapes: list[tuple[Shape, Color]], px: int, py: int) -> bytes:
    r = g = b = a = 0.0
    for i in range(SAMPLES):
        for j in range(SAMPLES):
            x = (px + (i + 0.5) / SAMPLES) / SIZE
            y = (py + (j + 0.5) / SAMPLES) / SIZE
            colour: Color | None = None
            for inside, fill in reversed(shapes):
                if inside(x, y):
                    colour = fill
                    break
            if colour is not None:
                r, g, b, a = r + colour[0], g + colour[1], b + colour[2], a + 1
    n = SAMPLES * SAMPLES
    if a == 0:
        return bytes(4)
    # straight (not premultiplied) alpha: average the colour over covered samples
    return bytes((round(255 * r / a), round(255 * g / a), round(255 * b / a),
                  round(255 * a / n)))


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        Path(__file__).resolve().parents[1] / ".claude-plugin" / "icon.png")
    shapes = layers()
    rows = [b"".join(pixel(shapes, x, y) for x in range(SIZE)) for y in range(SIZE)]
    out.write_bytes(png(SIZE, SIZE, rows))
    print(f"wrote {out} ({SIZE}x{SIZE})")


if __name__ == "__main__":
    main()
