"""Ingestion: corpus files -> Documents of articles and paragraphs with line numbers.

A scraped page is read line by line: `esqa.ingest.boilerplate` classifies each line
on its own, the rules here use the neighbours (captions sit next to image
credits, a lead-in whose list was page furniture is furniture too), lines are
grouped into paragraphs, and paragraphs into articles (a tag page holds
several; "Related articles" sections hold teasers of other articles).

Paragraph numbers count every paragraph of the file from the top, page
furniture included, so that a user can check a citation by opening the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from esqa.ingest.boilerplate import (
    LineKind,
    classify_line,
    ends_sentence,
    parse_dateline,
    word_count,
)
from esqa.ingest.files import CorpusListing, list_corpus
from esqa.ingest.textfile import NotTextError, check_size, decode_bytes, split_lines
from esqa.types import Article, Document, Paragraph

# A caption is a short text line directly above or below an image credit.
CAPTION_MAX_WORDS = 50
# Titles and section headings are short single lines that do not end a sentence.
HEADING_MAX_WORDS = 25
# A byline with a publisher name is a few words ("Japan Times", "NHK").
PUBLISHER_MAX_WORDS = 5
# How far ahead a heading looks for the signs of a new article (its own
# repetition, a dateline) before the first body paragraph.
ARTICLE_LOOKAHEAD = 8


@dataclass
class _Block:
    """A paragraph-to-be: consecutive lines of one kind."""

    kind: LineKind
    first: int  # 0-based line index
    last: int
    text: str


@dataclass
class _Draft:
    title: str | None = None
    publisher: str | None = None
    published: str | None = None
    teaser: bool = False
    paragraphs: list[tuple[_Block, str]] = field(default_factory=list)  # (block, kind)
    has_body: bool = False


def _printable(source: str) -> str:
    """A file name for messages, with bytes that are not UTF-8 shown as escapes."""
    return source.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_document(path: Path, source: str, max_bytes: int | None = None) -> Document:
    """Read and parse one file. Raises NotTextError (empty, binary, larger than
    `max_bytes`, default `esqa.settings.MAX_FILE_BYTES`) or OSError."""
    with path.open("rb") as f:
        # Stat the open file before reading it: an edit made after this moment
        # changes the mtime, so a stale record can never pair new stat with old text.
        info = os.fstat(f.fileno())
        check_size(info.st_size, source, max_bytes)  # before reading it into memory
        data = f.read()
    decoded = decode_bytes(data, source, max_bytes)
    doc = parse_text(source, decoded.text, sha256=hashlib.sha256(data).hexdigest())
    warnings = (decoded.warning,) if decoded.warning else ()
    return Document(
        source=doc.source,
        sha256=doc.sha256,
        encoding=decoded.encoding,
        articles=doc.articles,
        paragraphs=doc.paragraphs,
        warnings=warnings,
        file_stat=(info.st_size, info.st_mtime_ns),
    )


def read_indexable(
    path: Path, source: str, max_bytes: int | None = None
) -> tuple[Document | None, str]:
    """`read_document`, and why the file is not indexed ("" when it is): the reason a
    build records. The document comes back whenever it was read, for its warnings."""
    try:
        doc = read_document(path, source, max_bytes)
    except NotTextError as exc:
        return None, str(exc).removeprefix(f"{source}: ")
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc})"
    return doc, "" if doc.paragraphs else "no article text found"


def unreadable_folders(listing: CorpusListing) -> tuple[list[str], dict[str, str]]:
    """The warnings and the skipped records of the folders a listing could not list:
    their files are not indexed, and must not look removed in silence."""
    warnings, skipped = [], {}
    for folder, reason in listing.unreadable.items():
        warnings.append(f"skipped {_printable(folder)}: {reason}")
        if folder == _printable(folder):  # a name that is not UTF-8 cannot be recorded
            skipped[folder] = reason
    return warnings, skipped


@dataclass(frozen=True)
class CorpusScan:
    documents: list[Document]
    warnings: list[str]
    skipped: dict[str, str]  # source -> why it was not indexed


def load_corpus(root: Path, max_file_bytes: int | None = None) -> CorpusScan:
    """Read every article file under root.

    A file that cannot be read, is empty or binary, is larger than
    `max_file_bytes` (default `esqa.settings.MAX_FILE_BYTES`) or holds no
    article text is skipped with a warning, never an exception; so is a folder
    that cannot be listed (recorded as "folder/"). Raises CorpusError when
    root is missing or cannot be listed.
    """
    listing = list_corpus(root)
    scan = CorpusScan([], *unreadable_folders(listing))
    for source, entry, left_out in listing.entries:
        if left_out is not None:
            # Not recorded as skipped: the index must never read such a file.
            scan.warnings.append(f"skipped {_printable(source)}: {left_out}")
            continue
        doc, reason = read_indexable(Path(entry.path), source, max_file_bytes)
        if doc is not None:
            scan.warnings.extend(doc.warnings)
            if not reason:
                scan.documents.append(doc)
                continue
        scan.skipped[source] = reason
        scan.warnings.append(f"skipped {source}: {reason}")
    return scan


def parse_text(source: str, text: str, sha256: str = "") -> Document:
    """Parse a page's text into articles and paragraphs (boilerplate dropped)."""
    lines = split_lines(text)
    kinds = _classify(lines)
    blocks = _group(lines, kinds)
    articles, paragraphs = _assemble(source, blocks)
    return Document(source, sha256, "utf-8", tuple(articles), tuple(paragraphs))


def _classify(lines: list[str]) -> list[LineKind]:
    kinds = [classify_line(line) for line in lines]
    captions: set[int] = set()
    for i, kind in enumerate(kinds):
        if kind is not LineKind.TEXT:
            continue
        beside_credit = (i > 0 and kinds[i - 1] is LineKind.CREDIT) or (
            i + 1 < len(kinds) and kinds[i + 1] is LineKind.CREDIT
        )
        if beside_credit and word_count(lines[i], CAPTION_MAX_WORDS) <= CAPTION_MAX_WORDS:
            captions.add(i)
    furniture = {LineKind.BOILERPLATE, LineKind.RELATED}
    for i, kind in enumerate(kinds):
        if kind is not LineKind.TEXT:
            continue
        words = word_count(lines[i], 12)  # compared with 12 and 6 below
        after = _neighbour(kinds, i, +1)
        before = _neighbour(kinds, i, -1)
        # A lead-in ("Explore what X can do for you:") whose list was page
        # furniture belongs to the furniture.
        dangling = lines[i].rstrip().endswith(":") and words <= 12 and after in furniture | {None}
        # A short line between two furniture lines is furniture ("Comments").
        sandwiched = words <= 6 and before is LineKind.BOILERPLATE and after is LineKind.BOILERPLATE
        if dangling or sandwiched:
            kinds[i] = LineKind.BOILERPLATE
    for i in captions:
        if kinds[i] is LineKind.TEXT:
            kinds[i] = LineKind.CAPTION
    return kinds


def _neighbour(kinds: list[LineKind], i: int, step: int) -> LineKind | None:
    j = i + step
    while 0 <= j < len(kinds):
        if kinds[j] is not LineKind.BLANK:
            return kinds[j]
        j += step
    return None


_CONTINUES = re.compile(r"^[\s]*[a-z0-9(\[\"'“‘,;–—-]")


def _continues(prev: str, line: str) -> bool:
    """Whether `line` continues a hard-wrapped paragraph begun on `prev`."""
    if ends_sentence(prev) or prev.strip() == line.strip():
        return False
    if _CONTINUES.match(line):
        return True
    # Wrapped lines are of similar width; a body paragraph after a title is far longer.
    return len(prev) >= 40 and len(line) <= 1.3 * len(prev) + 10


# A lower-case word, not a web address ("https://...", "www.").
_RESUMES = re.compile(r"\s*(?!https?:|www\.)[a-z]")


def _resumes(prev: str, line: str) -> bool:
    """Whether `line` resumes, across one blank line, a sentence that `prev` breaks off.

    Text extracted from PDFs, and some scraped pages, put a blank line after
    every wrapped line ("... the major role of chest CT is to understand the",
    blank, "extent and dynamic evolution ..."). A line that stops mid-sentence
    (or a lead-in's colon) followed by one that starts in lower case is the
    same paragraph: quoting either half alone would cut the sentence in two.
    """
    broken_off = not ends_sentence(prev) or prev.rstrip().endswith(":")  # "... five groups:"
    return broken_off and bool(_RESUMES.match(line)) and len(prev.strip()) >= 20


def _wrapped_runs(lines: list[str], kinds: list[LineKind]) -> set[int]:
    """Lines (after the first) of runs of text lines that are hard-wrapped.

    A run of three or more lines whose lines, but the last, all have nearly the
    same width (at most 100 characters) is one paragraph wrapped by an editor,
    even where a line happens to end a sentence.
    """
    inside: set[int] = set()
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and kinds[j] is LineKind.TEXT:
            j += 1
        run = [len(line.rstrip()) for line in lines[i:j]]
        if len(run) >= 3:
            widest = max(run[:-1])
            distinct = all(lines[n].strip() != lines[n + 1].strip() for n in range(i, j - 1))
            if widest <= 100 and min(run[:-1]) >= 0.75 * widest and run[-1] <= widest and distinct:
                inside.update(range(i + 1, j))
        i = max(j, i + 1)
    return inside


def _group(lines: list[str], kinds: list[LineKind]) -> list[_Block]:
    """Group non-blank lines into paragraphs; only text lines ever span several lines."""
    wrapped = _wrapped_runs(lines, kinds)
    blocks: list[_Block] = []
    for i, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if kind is LineKind.BLANK:
            continue
        prev = blocks[-1] if blocks else None
        joins = (
            prev is not None
            and kind is LineKind.TEXT
            and prev.kind is LineKind.TEXT
            and (
                (prev.last == i - 1 and (i in wrapped or _continues(lines[i - 1], line)))
                or (prev.last == i - 2 and _resumes(lines[i - 2], line))
            )
        )
        if prev is not None and joins:
            prev.last = i  # its text is made once, below: joining line by line is quadratic
            continue
        blocks.append(_Block(kind, i, i, line))
    for block in blocks:
        # Every line from the first to the last, blank ones too: the text must match the file.
        block.text = "\n".join(lines[block.first : block.last + 1]).strip()
    return blocks


def _is_heading(block: _Block) -> bool:
    text = block.text
    return (
        block.kind is LineKind.TEXT
        and block.first == block.last
        and word_count(text, HEADING_MAX_WORDS) <= HEADING_MAX_WORDS
        and not ends_sentence(text)
        and not text[:1].islower()
    )


def _same(a: str | None, b: str) -> bool:
    return a is not None and " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _starts_article(blocks: list[_Block], at: int) -> bool:
    """A heading after body text starts a new article when what follows it looks
    like an article header: the headline repeated, or a dateline."""
    title = blocks[at].text
    for block in blocks[at + 1 : at + 1 + ARTICLE_LOOKAHEAD]:
        if block.kind is LineKind.DATELINE or _same(title, block.text):
            return True
        if block.kind is LineKind.TEXT and not _is_heading(block):
            return False
    return False


def _assemble(source: str, blocks: list[_Block]) -> tuple[list[Article], list[Paragraph]]:
    drafts: list[_Draft] = []
    current: _Draft | None = None
    in_related = False
    pending_captions: list[_Block] = []

    def start(title: str | None) -> _Draft:
        draft = _Draft(title=title, teaser=in_related)
        draft.paragraphs.extend((b, "caption") for b in pending_captions)
        pending_captions.clear()
        drafts.append(draft)
        return draft

    for at, block in enumerate(blocks):
        kind = block.kind
        if kind is LineKind.RELATED:
            in_related, current = True, None
        elif kind is LineKind.DATELINE:
            dateline = parse_dateline(block.text)
            if current is not None and not current.has_body and dateline is not None:
                current.publisher = current.publisher or dateline.publisher
                current.published = current.published or dateline.published
        elif kind is LineKind.CAPTION:
            if current is None:
                pending_captions.append(block)
            else:
                current.paragraphs.append((block, "caption"))
        elif kind is not LineKind.TEXT:
            continue  # boilerplate, credits, tag lists
        elif _is_heading(block):
            if current is None or (
                current.has_body and (in_related or _starts_article(blocks, at))
            ):
                current = start(block.text)
                current.paragraphs.append((block, "heading"))
            elif current.has_body or _same(current.title, block.text):
                if not _same(current.title, block.text):
                    current.paragraphs.append((block, "heading"))  # a section heading
            elif current.title is None:
                current.title = block.text
                current.paragraphs.append((block, "heading"))
            elif (
                current.publisher is None
                and word_count(block.text, PUBLISHER_MAX_WORDS) <= PUBLISHER_MAX_WORDS
            ):
                current.publisher = block.text
            else:
                current.paragraphs.append((block, "heading"))  # a deck under the title
        else:
            if current is None:
                current = start(None)
            current.paragraphs.append((block, "body"))
            current.has_body = True
            if in_related:
                current = None  # a teaser is one summary paragraph
    # Paragraph numbers count every block of the file, furniture included.
    number_of = {id(block): n for n, block in enumerate(blocks, start=1)}
    articles: list[Article] = []
    paragraphs: list[Paragraph] = []
    for draft in drafts:
        kept = [(b, k) for b, k in draft.paragraphs if k != "caption" or draft.has_body]
        if not any(k == "body" for _, k in kept):
            continue  # a headline or caption with no text under it
        number = len(articles) + 1
        kept.sort(key=lambda item: item[0].first)
        for block, role in kept:
            paragraphs.append(
                Paragraph(
                    source=source,
                    number=number_of[id(block)],
                    line_start=block.first + 1,
                    line_end=block.last + 1,
                    text=block.text,
                    article=number,
                    kind=role,
                )
            )
        articles.append(
            Article(
                source=source,
                number=number,
                title=draft.title,
                publisher=draft.publisher,
                published=draft.published,
                teaser=draft.teaser,
                line_start=kept[0][0].first + 1,
                line_end=kept[-1][0].last + 1,
            )
        )
    return articles, paragraphs
