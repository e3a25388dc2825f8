"""esqa.ingest.textfile: bytes -> text, and line numbers as an editor shows them."""

from __future__ import annotations

import codecs

import pytest

from esqa.ingest.textfile import NotTextError, decode_bytes, split_lines

TEXT = "Yen at ¥1.8 trillion — “quoted” café\nsecond line\n"


def test_plain_utf8_decodes_without_warning():
    decoded = decode_bytes(TEXT.encode("utf-8"), "a.txt")
    assert decoded.text == TEXT
    assert decoded.warning is None


def test_utf8_bom_is_removed_from_the_text():
    decoded = decode_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8"), "a.txt")
    assert decoded.text == TEXT
    assert decoded.warning is None


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_decodes(codec):
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    decoded = decode_bytes(bom + TEXT.encode(codec), "a.txt")
    assert decoded.text == TEXT
    assert decoded.warning is None


def test_cp1252_bytes_decode_with_a_warning_naming_file_and_encoding():
    decoded = decode_bytes(b"caf\xe9 \x93quoted\x94", "news/old.txt")
    assert decoded.text == "café “quoted”"
    assert decoded.encoding == "cp1252"
    assert decoded.warning is not None
    assert "news/old.txt" in decoded.warning
    assert "cp1252" in decoded.warning


def test_bytes_undefined_in_cp1252_still_decode():
    # 0x81 has no character in Windows-1252; decoding must not crash.
    decoded = decode_bytes(b"price \x81 rose \xe9", "odd.txt")
    assert "price" in decoded.text and "rose" in decoded.text
    assert decoded.warning is not None and "odd.txt" in decoded.warning


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"\n\n\t \r\n", b"abc\x00def", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"],
    ids=["empty", "spaces", "blank-lines", "nul", "png"],
)
def test_empty_whitespace_and_binary_bytes_are_not_text(data):
    with pytest.raises(NotTextError):
        decode_bytes(data, "x.txt")


@pytest.mark.parametrize(
    "data",
    [codecs.BOM_UTF8, codecs.BOM_UTF8 + b" \r\n", codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")],
    ids=["utf8-bom-only", "utf8-bom-blank", "utf16-bom-blank"],
)
def test_a_file_of_only_a_bom_and_whitespace_is_empty(data):
    with pytest.raises(NotTextError):
        decode_bytes(data, "x.txt")


def test_not_text_error_names_the_file():
    with pytest.raises(NotTextError, match="x.txt"):
        decode_bytes(b"", "x.txt")


@pytest.mark.parametrize(
    "text",
    ["one\ntwo\nthree", "one\r\ntwo\r\nthree", "one\rtwo\rthree", "one\r\ntwo\nthree"],
    ids=["lf", "crlf", "cr", "mixed"],
)
def test_split_lines_counts_every_line_break_style_once(text):
    assert split_lines(text) == ["one", "two", "three"]


def test_split_lines_keeps_blank_lines_so_numbers_match_an_editor():
    lines = split_lines("title\r\n\r\nbody\r\n")
    assert lines[0] == "title"
    assert lines[1] == ""
    assert lines[2] == "body"
