"""A minimal writer of 16-bit greyscale PNG files (the format radiometric tools read TLinear frames in)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png16(image: NDArray[np.uint16], level: int = 1) -> bytes:
    """PNG bytes of a 2D uint16 array (bit depth 16, colour type 0, no interlace, filter 0 on every row)."""
    if image.ndim != 2 or image.dtype != np.uint16:
        raise ValueError(f"expected a 2D uint16 array, got {image.dtype} {image.shape}")
    h, w = image.shape
    rows = np.zeros((h, 1 + 2 * w), dtype=np.uint8)
    rows[:, 1:] = image.astype(">u2").view(np.uint8).reshape(h, 2 * w)
    header = struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def write_png16(path: str | Path, image: NDArray[np.uint16]) -> Path:
    """Write ``image`` as a 16-bit PNG."""
    p = Path(path)
    p.write_bytes(encode_png16(image))
    return p
