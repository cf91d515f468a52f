"""PNG files of the plots, encoded from the canvas's pixels with zlib directly.

``savefig`` hands the pixels to Pillow, which tries five PNG row filters on every row
and keeps the best: on a run's plots that costs about three times what deflating them
does. Here every row gets the "Up" filter (the difference to the row above: a plot's
rows mostly repeat), the pixels lose the alpha channel when it is opaque throughout (it
always is: the figures have an opaque background), and zlib deflates at level 1. The
file has the pixels ``savefig`` would have written (tests/test_reports.py decodes both),
the same dpi (``pHYs``) and the same ``Software`` note; it is about as large.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(rgba: Any, dpi: float, text: dict[str, str] | None = None) -> bytes:
    """A PNG of ``rgba`` (height x width x 4 bytes, rows top down), RGB when every pixel
    is opaque; ``dpi`` as its physical pixel size, ``text`` as tEXt chunks (Latin-1)."""
    a = np.asarray(rgba, dtype=np.uint8)
    h, w, _ = a.shape
    if (a[:, :, 3] == 255).all():
        px, colour_type = a[:, :, :3], 2
    else:
        px, colour_type = a, 6
    flat = px.reshape(h, -1)
    rows = np.empty((h, flat.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type Up; above the first row is a row of zeros
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # modulo 256, as the filter wants
    ppm = int(dpi / 0.0254 + 0.5)
    out = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))]
    for key, value in (text or {}).items():
        out.append(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
    out.append(_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
    out.append(_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def write_png(path: Path, rgba: Any, dpi: float, text: dict[str, str] | None = None) -> Path:
    Path(path).write_bytes(png_bytes(rgba, dpi, text))
    return Path(path)
