"""Rendition rules and the Pillow resize that produces one rendition (CATALOG 6).

Pure functions over bytes: no AWS here, so the image work is tested on its own. A rendition keeps
the source's aspect ratio at its configured width. With ``allow_upscale`` off, a source narrower
than the rendition is refused (a print rendition must not be a blown-up thumbnail) and the event
goes to that worker's DLQ for review.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps

#: Pillow format name -> (file extension, content type).
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}


class SourceTooSmall(Exception):
    """The source is narrower than a rendition that must not upscale."""


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    width: int
    format: str = "JPEG"
    allow_upscale: bool = True

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(
                f"rendition {self.name!r}: format must be one of {sorted(FORMATS)} (given {self.format!r})"
            )
        if self.width < 1:
            raise ValueError(f"rendition {self.name!r}: width must be positive (given {self.width})")

    @property
    def file_name(self) -> str:
        return f"{self.name}.{FORMATS[self.format][0]}"

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][1]

    def key_for(self, source_key: str) -> str:
        """Where this rendition of ``source_key`` is written in the renditions bucket."""
        return f"{source_key}/{self.file_name}"

    @classmethod
    def from_env(cls) -> RenditionSpec:
        return cls(
            name=os.environ["RENDITION_NAME"],
            width=int(os.environ["RENDITION_WIDTH"]),
            format=os.environ.get("RENDITION_FORMAT", "JPEG"),
            allow_upscale=os.environ.get("ALLOW_UPSCALE", "true").lower() == "true",
        )


@dataclass(frozen=True)
class Rendered:
    body: bytes
    width: int
    height: int
    content_type: str


def render(source: bytes, spec: RenditionSpec) -> Rendered:
    """Resize ``source`` to ``spec.width`` (keeping the aspect ratio) and encode it as ``spec.format``.

    Raises Pillow's ``UnidentifiedImageError`` for bytes that are no image, ``OSError`` for a
    truncated one, ``DecompressionBombError`` for absurd dimensions, ``SourceTooSmall`` per the rule above.
    """
    with Image.open(BytesIO(source)) as opened:
        image = ImageOps.exif_transpose(opened)  # phone photos: honour the orientation tag
        width, height = image.size
        if width < spec.width and not spec.allow_upscale:
            raise SourceTooSmall(
                f"rendition {spec.name!r} needs a source at least {spec.width} px wide (given {width}x{height})"
            )
        target = (spec.width, max(1, round(height * spec.width / width)))
        resized = image.resize(target, Image.Resampling.LANCZOS)
        if spec.format == "JPEG" and resized.mode not in ("RGB", "L"):
            resized = resized.convert("RGB")  # JPEG has no alpha or palette
        out = BytesIO()
        resized.save(out, format=spec.format, **({"quality": 85} if spec.format != "PNG" else {"optimize": True}))
        return Rendered(out.getvalue(), resized.width, resized.height, spec.content_type)
