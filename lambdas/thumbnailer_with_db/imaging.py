"""The thumbnailer's business logic: image bytes in, a bounded thumbnail out (CATALOG 12).

Pillow reads the header first, so an image too large to decode safely is refused before its pixels
are loaded; EXIF orientation is applied so portrait photos stay upright; ``Image.thumbnail`` keeps
the aspect ratio, never enlarges, and lets JPEG decoders downscale while decoding.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

#: Larger images are refused: decoding them could exhaust the function's memory.
MAX_PIXELS = 50_000_000
_FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "JPEG": ("image/jpeg", "jpg", {"quality": 85, "optimize": True}),
    "PNG": ("image/png", "png", {"optimize": True}),
    "WEBP": ("image/webp", "webp", {"quality": 80}),
}
# The pixel modes each format can store, and what other modes are converted to (JPEG has no alpha).
_MODES = {
    "JPEG": ({"RGB", "L"}, "RGB"),
    "PNG": ({"RGB", "RGBA", "L", "LA", "P", "1"}, "RGBA"),
    "WEBP": ({"RGB", "RGBA"}, "RGBA"),
}


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can read safely; retrying cannot help."""


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    width: int
    height: int
    content_type: str
    extension: str
    source_format: str


def make_thumbnail(raw: bytes, *, max_width: int, max_height: int, image_format: str = "JPEG") -> Thumbnail:
    """A thumbnail of ``raw`` fitting ``max_width`` x ``max_height``; ``NotAnImage`` for anything else."""
    content_type, extension, save_options = _FORMATS[image_format]
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise NotAnImage(f"image of {image.width}x{image.height} pixels exceeds {MAX_PIXELS} pixels")
            source_format = image.format or "unknown"
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)
            modes, fallback = _MODES[image_format]
            if upright.mode not in modes:
                upright = upright.convert(fallback)
            out = io.BytesIO()
            upright.save(out, format=image_format, **save_options)
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise NotAnImage(str(error)) from error
    except OSError as error:  # truncated or corrupt image data
        raise NotAnImage(f"unreadable image: {error}") from error
    return Thumbnail(out.getvalue(), upright.width, upright.height, content_type, extension, source_format)
