"""The encoder's business logic: any Unicode text in, normalized UTF-8 gzip out (CATALOG 11).

Decoding follows the byte order mark (UTF-32, UTF-8, UTF-16) and falls back to strict UTF-8.
Normalizing means Unicode NFC, LF line endings and exactly one final newline, so equal text always
encodes to equal bytes; gzip without a timestamp keeps the output deterministic too (a reprocessed
upload yields the identical object).
"""

from __future__ import annotations

import codecs
import gzip
import re
import unicodedata
from dataclasses import dataclass

# UTF-32 LE's BOM starts with UTF-16 LE's, so it is tried first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters text does not contain (tab, LF, VT, FF and CR are fine): a sign of binary data.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


class NotText(ValueError):
    """The object is not decodable text; processing it again cannot succeed."""


@dataclass(frozen=True)
class Encoded:
    data: bytes  #: gzip of the normalized UTF-8 text
    text_bytes: int  #: length of the normalized UTF-8 text
    source_encoding: str  #: the codec the input was decoded with


def decode(raw: bytes) -> tuple[str, str]:
    """The text of ``raw`` and the codec used; ``NotText`` if it is not text."""
    codec = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as error:
        raise NotText(f"not {codec} text: {error.reason} at byte {error.start}") from error
    binary = _BINARY.search(text)
    if binary:
        raise NotText(f"binary content: control character U+{ord(binary.group()):04X} at character {binary.start()}")
    return text, codec


def normalize(text: str) -> str:
    """NFC, LF line endings, one final newline (empty text stays empty)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    stripped = text.rstrip("\n")
    return f"{stripped}\n" if stripped else ""


def encode(raw: bytes) -> Encoded:
    """Decode, normalize and gzip ``raw``."""
    text, codec = decode(raw)
    normalized = normalize(text).encode("utf-8")
    return Encoded(gzip.compress(normalized, compresslevel=9, mtime=0), len(normalized), codec)
