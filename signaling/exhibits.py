"""An exhibit's page as a picture for the courtroom's exhibit area: RGB uint8, at most ~1280x720.

PDF pages are rendered with pypdfium2, PNG and JPEG pictures read with Pillow, always in
the one pdfium thread (`courtroom.evidence.PDFIUM`), never on the event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from courtroom.evidence import PDFIUM, Unreadable

MAX_WIDTH = 1280
MAX_HEIGHT = 720


def render_page(path: Path, media_type: str, page: int = 1, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT) -> np.ndarray:
    """Page `page` (1-based) of the exhibit, scaled to fit max_width x max_height, as (h, w, 3) RGB uint8."""
    if media_type == "application/pdf":
        image = _pdf_page(path, page, max_width, max_height)
    elif media_type in ("image/png", "image/jpeg"):
        if page != 1:
            raise IndexError("a picture has one page")
        image = _picture(path, max_width, max_height)
    else:
        raise Unreadable(f"{media_type} cannot be shown in the exhibit area")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


async def render(path: Path, media_type: str, page: int = 1, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT) -> np.ndarray:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(PDFIUM, render_page, path, media_type, page, max_width, max_height)


def _pdf_page(path: Path, page: int, max_width: int, max_height: int) -> Image.Image:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        raise Unreadable(f"the PDF cannot be opened ({e})") from None
    try:
        if not 1 <= page <= len(pdf):
            raise IndexError(f"the PDF has {len(pdf)} pages")
        pdf_page = pdf[page - 1]
        try:
            width, height = pdf_page.get_size()
            if width <= 0 or height <= 0:
                raise Unreadable("the page has no size")
            scale = min(max_width / width, max_height / height)
            bitmap = pdf_page.render(scale=scale, fill_color=(255, 255, 255, 255), may_draw_forms=True)
            try:
                return bitmap.to_pil().convert("RGB")
            finally:
                bitmap.close()
        finally:
            pdf_page.close()
    finally:
        pdf.close()


def _picture(path: Path, max_width: int, max_height: int) -> Image.Image:
    try:
        with Image.open(path) as opened:
            opened.draft("RGB", (max_width, max_height))  # JPEG: decode at a reduced size
            image = ImageOps.exif_transpose(opened) or opened
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            else:
                image = image.convert("RGB")
            image.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)
            return image
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise Unreadable(f"the picture cannot be opened ({type(e).__name__})") from None
