"""Reading corpus files: bytes -> text and lines, never crashing on bad input.

Decoding order: a byte-order mark wins (UTF-8, UTF-16, UTF-32); then strict
UTF-8; then Windows-1252, the usual encoding of text saved by Western tools;
then Latin-1, which accepts any byte sequence. Every fallback is reported.
A file larger than `esqa.settings.MAX_FILE_BYTES`, or of more lines than
`MAX_FILE_LINES`, is not an article: parsing it would take minutes and gigabytes.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from esqa import settings

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


class TooLargeError(NotTextError):
    """The file is larger, or has more lines, than an article file may
    (`esqa.settings.MAX_FILE_BYTES`, `MAX_FILE_LINES`)."""


def check_size(size: int, name: str, max_bytes: int | None = None) -> None:
    """Raise TooLargeError when a file of `size` bytes is over the limit."""
    limit = settings.MAX_FILE_BYTES if max_bytes is None else max_bytes
    if size > limit:
        raise TooLargeError(
            f"{name}: {size / 2**20:,.1f} MiB, over the {_size_text(limit)} limit for one "
            "article file; split it into smaller files"
        )


def _size_text(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def bom_encoding(data: bytes) -> str | None:
    """The codec that a byte-order mark at the start of `data` names, else None."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def decode_bytes(data: bytes, name: str = "<bytes>", max_bytes: int | None = None) -> DecodedText:
    """Decode a file's bytes to text, with the fallbacks described above.

    Raises NotTextError for empty files and for binary data (NUL bytes outside
    a UTF-16/32 file), TooLargeError (a NotTextError) above `max_bytes`
    (default `esqa.settings.MAX_FILE_BYTES`).
    """
    check_size(len(data), name, max_bytes)
    # Counted in bytes, before decoding: "\n" and "\r" are single bytes in UTF-8
    # and every fallback, and the low byte of UTF-16's.
    lines = max(data.count(b"\n"), data.count(b"\r")) + (not data.endswith((b"\n", b"\r")))
    if lines > settings.MAX_FILE_LINES:
        raise TooLargeError(
            f"{name}: {lines:,} lines, over the {settings.MAX_FILE_LINES:,} limit for one "
            "article file; split it into smaller files"
        )
    encoding = bom_encoding(data)
    if encoding is not None:
        try:
            decoded: str | None = _strip_bom(data.decode(encoding))
        except UnicodeDecodeError:
            decoded = None  # not what its mark says: read it as if it had none
        if decoded is not None:
            if not decoded.strip():
                raise NotTextError(f"{name}: empty file")
            return DecodedText(decoded, encoding)
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
