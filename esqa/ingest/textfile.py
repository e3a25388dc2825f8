"""Reading corpus files: bytes -> text and lines, never crashing on bad input.

Decoding order: a byte-order mark wins (UTF-8, UTF-16, UTF-32); then strict
UTF-8; then Windows-1252, the usual encoding of text saved by Western tools;
then Latin-1, which accepts any byte sequence. Every fallback is reported.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Line breaks as editors and Python's universal-newline mode count them; a
# lone "\r" (old Mac files) is a break too, so citations match what users see.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    warning: str | None = None  # set when a fallback encoding was used


class NotTextError(ValueError):
    """The bytes are empty or binary, so the file is not an article."""


def decode_bytes(data: bytes, name: str = "<bytes>") -> DecodedText:
    """Decode a file's bytes to text, with the fallbacks described above.

    Raises NotTextError for empty files and for binary data (NUL bytes outside
    a UTF-16/32 file).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = _strip_bom(data.decode(encoding))
            except UnicodeDecodeError:
                break
            if not text.strip():
                raise NotTextError(f"{name}: empty file")
            return DecodedText(text, encoding)
    if not data.strip():
        raise NotTextError(f"{name}: empty file")
    if b"\x00" in data:
        raise NotTextError(f"{name}: binary file (contains NUL bytes)")
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start}"
    for fallback in ("cp1252", "latin-1"):
        try:
            text = data.decode(fallback)
        except UnicodeDecodeError:
            continue
        return DecodedText(
            text, fallback, f"{name}: not valid UTF-8 ({where}); decoded as {fallback}"
        )
    raise AssertionError("latin-1 decodes every byte sequence")  # pragma: no cover


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def split_lines(text: str) -> list[str]:
    """Split text into lines the way an editor numbers them (index 0 is line 1)."""
    return _LINE_BREAK.split(text)
