"""A 3 x 5 pixel bitmap font (capitals, digits, a few signs) for labels on the PNG map."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_GLYPHS = {
    "A": ".x.x.xxxxx.xx.x",
    "B": "xx.x.xxx.x.xxx.",
    "C": ".xxx..x..x...xx",
    "D": "xx.x.xx.xx.xxx.",
    "E": "xxxx..xx.x..xxx",
    "F": "xxxx..xx.x..x..",
    "G": ".xxx..x.xx.x.xx",
    "H": "x.xx.xxxxx.xx.x",
    "I": "xxx.x..x..x.xxx",
    "J": "..x..x..xx.x.x.",
    "K": "x.xx.xxx.x.xx.x",
    "L": "x..x..x..x..xxx",
    "M": "x.xxxxxxxx.xx.x",
    "N": "xx.x.xx.xx.xx.x",
    "O": ".x.x.xx.xx.x.x.",
    "P": "xx.x.xxx.x..x..",
    "Q": ".x.x.xx.xxx..xx",
    "R": "xx.x.xxx.x.xx.x",
    "S": ".xxx...x...xxx.",
    "T": "xxx.x..x..x..x.",
    "U": "x.xx.xx.xx.xxxx",
    "V": "x.xx.xx.xx.x.x.",
    "W": "x.xx.xxxxxxxx.x",
    "X": "x.xx.x.x.x.xx.x",
    "Y": "x.xx.x.x..x..x.",
    "Z": "xxx..x.x.x..xxx",
    "0": "xxxx.xx.xx.xxxx",
    "1": ".x.xx..x..x.xxx",
    "2": "xx...x.x.x..xxx",
    "3": "xx...x.x...xxx.",
    "4": "x.xx.xxxx..x..x",
    "5": "xxxx..xx...xxx.",
    "6": ".xxx..xxxx.xxxx",
    "7": "xxx..x.x..x..x.",
    "8": "xxxx.xxxxx.xxxx",
    "9": "xxxx.xxxx..xxx.",
    "-": "......xxx......",
    "_": "............xxx",
    ".": ".............x.",
    " ": "...............",
    "/": "..x..x.x.x..x..",
}


def glyph(char: str) -> NDArray[np.bool_]:
    """The 5 x 3 mask of ``char`` (upper-cased; unknown characters draw as a blank)."""
    pattern = _GLYPHS.get(char.upper(), _GLYPHS[" "])
    return np.array([c == "x" for c in pattern], dtype=bool).reshape(5, 3)


def text_mask(text: str, scale: int = 2) -> NDArray[np.bool_]:
    """The mask of a line of text, one blank column between letters, scaled up by ``scale``."""
    cols = []
    for ch in text:
        cols.append(glyph(ch))
        cols.append(np.zeros((5, 1), dtype=bool))
    mask = np.hstack(cols[:-1]) if cols else np.zeros((5, 0), dtype=bool)
    return np.kron(mask, np.ones((scale, scale), dtype=bool)).astype(bool)
