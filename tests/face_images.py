"""Real faces shipped by packages already here, and the pictures a check-in sends.

scikit-image's `data.astronaut()` (Eileen Collins) and matplotlib's sample `grace_hopper.jpg`
are two different real people; `data.chelsea()` is a cat.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image
from skimage import data


def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


def grace_hopper() -> np.ndarray:
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def cat() -> np.ndarray:
    return np.ascontiguousarray(data.chelsea())


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


def reencoded(image: np.ndarray, quality: int) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg(image, quality))) as im:
        return np.asarray(im.convert("RGB"))


def scaled(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((int(w * factor), int(h * factor)), Image.Resampling.LANCZOS))


def id_card(face: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """An ID document's photo page: a pale card with the person's photo (crop `box`, scaled
    to 150 px wide) on the left and grey lines of print on the right."""
    left, top, right, bottom = box
    photo = Image.fromarray(face[top:bottom, left:right]).resize((150, int(150 * (bottom - top) / (right - left))))
    card = Image.new("RGB", (640, 400), (226, 232, 240))
    card.paste(photo, (40, 60))
    pixels = np.asarray(card).copy()
    for row in range(80, 330, 40):
        pixels[row:row + 10, 240:600] = (90, 90, 100)
    return pixels


# The faces' regions, generously around the head (for ID cards and crops).
ASTRONAUT_HEAD = (130, 20, 330, 260)
GRACE_HEAD = (110, 60, 430, 420)


def side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    h = min(a.shape[0], b.shape[0])
    return np.ascontiguousarray(np.hstack([a[:h], b[:h]]))
