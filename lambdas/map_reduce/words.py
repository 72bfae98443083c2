"""Word counting and splitting, pure functions (CATALOG 7).

A word is a run of letters or digits, with inner apostrophes kept (``don't``), compared without
case (Unicode case folding: ``Straße`` and ``STRASSE`` are one word). Chunks end at ASCII
whitespace: no word contains whitespace, so no word is ever cut in two, and in UTF-8 an ASCII byte
never sits inside a multi-byte character, so every chunk decodes on its own. Counting the chunks
separately and adding the counts therefore equals counting the whole document — which is what
makes the map step parallel.
"""

from __future__ import annotations

import re
from collections import Counter

#: Letters or digits, with inner apostrophes (ASCII or typographic U+2019) kept.
WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def count_words(text: str) -> Counter[str]:
    return Counter(match.group(0).casefold() for match in WORD.finditer(text))


def split_points(data: bytes, chunk_size: int) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` of about ``chunk_size`` bytes each, ending at whitespace.

    A chunk grows past ``chunk_size`` only to reach the end of the word it would otherwise cut.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive (given {chunk_size})")
    ranges: list[tuple[int, int]] = []
    start, size = 0, len(data)
    while start < size:
        end = min(start + chunk_size, size)
        while end < size and not data[end:end + 1].isspace():
            end += 1
        ranges.append((start, end))
        start = end
    return ranges
