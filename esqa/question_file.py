"""Question files (`esqa ask --jsonl`, `esqa eval`): bytes -> numbered lines -> questions.

Encoding. A question file is decoded exactly or not at all:

- a byte-order mark names the encoding: UTF-8, UTF-16 or UTF-32, little- or
  big-endian (Notepad and PowerShell write them);
- without one, the file must be UTF-8, as JSON exchanged between systems must
  be (RFC 8259) and JSON Lines is;
- anything else (Latin-1 or cp1252 accents, UTF-16 without a mark, binary
  data with NUL bytes) is one error that names the line and the byte, raised
  before any question of a file is asked.

Corpus files fall back to cp1252 and Latin-1 instead (`esqa.ingest.textfile`):
an article saved by someone else's tool must not be lost for one byte, while a
question file is the user's own to save again, and a guessed encoding would
change its questions silently (every answer echoes its question, and the
grader pairs answers with questions by their text).

Lines. A line is a JSON object with a "question" string (a QA file's line) or
a plain-text question. Lines break at "\\n", "\\r\\n" and "\\r" only, so a
U+2028 inside a question stays in it. A line that cannot be read as either
(not valid JSON, nested too deep, no "question", a question that is not a
string or holds a lone surrogate such as the escape "\\ud800") becomes one
`QuestionLine` with an `error`: one error record in `esqa ask --jsonl`, whose
other lines are still answered, and an error naming the line in `esqa eval`.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, Protocol

from esqa.errors import EsqaError, QueryError
from esqa.ingest.textfile import bom_encoding, split_lines
from esqa.types import Answer

_SURROGATE = re.compile("[\ud800-\udfff]")
_FIX = "save it as UTF-8 (or UTF-16 with a byte-order mark)"


@dataclass(frozen=True)
class QuestionLine:
    """One non-blank line of a question file."""

    number: int  # 1-based line number in the file
    question: str  # the question as far as it is known ("" when not at all)
    record: dict[str, Any] | None = None  # the line's JSON object, if it is one
    error: str | None = None  # why the line cannot be asked, or None


class Asker(Protocol):
    def ask(self, question: str, k: int = ...) -> Answer: ...


def question_lines(stream: BinaryIO, name: str) -> Iterator[QuestionLine]:
    """The non-blank lines of a question file, parsed, in order.

    A regular file is read and decoded whole here, before the first line is
    returned, so an undecodable file raises EsqaError before any question is
    asked; a pipe (`-` for stdin) is decoded as its lines arrive, and raises
    at the first line that cannot be decoded. `name` is used in messages.
    Example: `list(question_lines(open("q.jsonl", "rb"), "q.jsonl"))[0].question`.
    """
    if stream.seekable():
        lines: Iterable[str] = split_lines(decode_question_file(stream.read(), name))
    else:
        lines = _stream_lines(stream, name)
    return _parsed(lines)


def _parsed(lines: Iterable[str]) -> Iterator[QuestionLine]:
    for number, text in enumerate(lines, start=1):
        line = parse_line(number, text)
        if line is not None:
            yield line


def decode_question_file(data: bytes, name: str) -> str:
    """The text of a question file's bytes, by the policy above; raises EsqaError."""
    encoding = bom_encoding(data)
    if encoding is None:
        nul = data.find(b"\x00")
        if nul >= 0:
            line = data.count(b"\n", 0, nul) + 1
            raise EsqaError(
                f"{name} holds a NUL byte (line {line}, byte {nul}): "
                f"it is binary, or UTF-16 without a byte-order mark; {_FIX}"
            )
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].decode(encoding, "replace").count("\n") + 1
        raise EsqaError(
            f"{name} is not {_label(encoding)} text (line {line}, byte {exc.start}); {_FIX}"
        ) from None
    return text.removeprefix("\ufeff")


def _label(encoding: str) -> str:
    return {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}.get(encoding, "UTF-8")


def _stream_lines(stream: BinaryIO, name: str) -> Iterator[str]:
    """Decoded lines of a pipe as they arrive.

    UTF-8 is decoded line by line (a "\\n" byte is never part of another
    character), so the lines before a bad byte are answered and the error
    names its line; UTF-16 and UTF-32 go through a text reader.
    """
    peek = getattr(stream, "peek", None)
    encoding = bom_encoding(peek(4)[:4]) if peek is not None else None
    if encoding not in (None, "utf-8-sig"):
        yield from _wide_stream_lines(stream, encoding or "utf-8", name)
        return
    number = 0
    for raw in iter(stream.readline, b""):
        if number == 0:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EsqaError(
                f"{name} is not UTF-8 text (line {number + 1}, byte {exc.start} of the line); "
                f"{_FIX}"
            ) from None
        text = text.removesuffix("\n").removesuffix("\r")
        for part in split_lines(text):  # a lone "\r" inside ends a line too
            number += 1
            if "\x00" in part:
                raise EsqaError(
                    f"{name} holds a NUL byte (line {number}): it is binary, or UTF-16 "
                    f"without a byte-order mark; {_FIX}"
                )
            yield part


def _wide_stream_lines(stream: BinaryIO, encoding: str, name: str) -> Iterator[str]:
    reader = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline=None)
    number = 0
    try:
        while True:
            try:
                text = reader.readline()
            except UnicodeDecodeError:
                raise EsqaError(
                    f"{name} is not {_label(encoding)} text (after line {number}); {_FIX}"
                ) from None
            if not text:
                return
            number += 1
            yield text
    finally:
        reader.detach()  # the stream is the caller's: closing the reader would close it


def parse_line(number: int, text: str) -> QuestionLine | None:
    """One line of a question file, or None when it is blank."""
    stripped = text.strip()
    if not stripped:
        return None
    if not stripped.startswith("{"):
        return QuestionLine(number, stripped)
    try:
        record = json.loads(stripped)
    except RecursionError:
        return QuestionLine(number, "", error="the JSON is nested too deeply to read")
    except json.JSONDecodeError as exc:
        return QuestionLine(number, "", error=f"not valid JSON ({exc.msg} at column {exc.colno})")
    except ValueError as exc:  # a number of more than 4,300 digits
        return QuestionLine(number, "", error=f"not valid JSON ({exc})")
    if not isinstance(record, dict):  # pragma: no cover - a "{" line parses to an object
        return QuestionLine(number, "", error="not a JSON object")
    question = record.get("question")
    if question is None:
        return QuestionLine(number, "", record, 'the JSON object has no "question" field')
    if not isinstance(question, str):
        return QuestionLine(number, "", record, '"question" is not a string')
    found = _SURROGATE.search(question)
    if found:
        return QuestionLine(
            number,
            _SURROGATE.sub("\ufffd", question),
            record,
            f"the question holds a lone surrogate (\\u{ord(found.group()):04x}), which is "
            "not a character; fix the escape",
        )
    return QuestionLine(number, question, record)


def error_record(line: QuestionLine) -> dict[str, Any]:
    """The record printed for a line that cannot be answered: the answer schema
    (`answered` false, no citations) with the line number and an `error`."""
    why = f"line {line.number}: {line.error}"
    return {
        "question": line.question,
        "answered": False,
        "answer": why,
        "answer_span": None,
        "confidence": 0.0,
        "citations": [],
        "line": line.number,
        "error": why,
    }


def answer_lines(asker: Asker, lines: Iterable[QuestionLine], k: int) -> Iterator[dict[str, Any]]:
    """One record per line: the answer (`Answer.to_dict()`), or `error_record`
    for a line that cannot be read or asked (a question without words)."""
    for line in lines:
        if line.error is None:
            try:
                yield asker.ask(line.question, k).to_dict()
                continue
            except QueryError as exc:
                line = replace(line, error=str(exc))
        yield error_record(line)
