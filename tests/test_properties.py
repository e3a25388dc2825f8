"""Property-based tests (hypothesis) of ingestion and chunking over random scraped-page text.

The text mixes words, sentences, blank lines, "\\n", "\\r\\n" and lone "\\r" line
ends, unicode (combining accents, emoji, CJK, right-to-left scripts, invisible
characters, separators that are not line breaks), very long lines and lines that
look like page furniture. Whatever it is:

- ingestion never crashes: a file is read, or skipped with a reason;
- every paragraph's text is exactly its cited lines of the file, as an editor
  shows them after decoding (1-based, each line break counted once), with
  surrounding blanks stripped and no blank line cited at either edge
  (the promise of `esqa.types.Paragraph.text`);
- chunk windows are stripped substrings of their paragraph that lose no text,
  with their sentences inside them;
- end to end, every hit and every quote stands in the lines it cites.
"""

from __future__ import annotations

import codecs
import io
import re

import hypothesis.strategies as st
from conftest import HashedEmbedder, write_corpus
from hypothesis import HealthCheck, given, settings

from esqa import api
from esqa.ingest.chunking import ChunkingParams, windows
from esqa.ingest.pages import load_corpus, parse_text
from esqa.ingest.textfile import NotTextError, decode_bytes

# Bounded so that the file runs in seconds; no example database in the repository.
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WORDS = (
    "the ministry said on Tuesday that Japan would tighten export rules for chip tools "
    "officials economic security supply chains rare earths ESPA METI 2025 ¥1.8 trillion "
    "60% crtiical café naïve Ångström Zürich São Paulo"
).split()
ODD = [
    "e\u0301",  # a combining accent
    "🌉",
    "👨\u200d👩\u200d👧",  # an emoji joined by zero-width joiners
    "👍🏽",
    "経済安全保障",
    "الأمن الاقتصادي",
    "\u200f",  # right-to-left mark
    "\u00a0",  # no-break space
    "\u200b",  # zero-width space
    "\ufeff",  # a byte-order mark inside the text
    "\u2028",  # a line separator, which editors do not break lines at
    "\x85",  # next line (NEL), likewise
    "\x0b",
    "\x0c",
    "\t",
    "“",
    "”",
    "’",
    "—",
    "…",
    '"',
    "(",
    ")",
]
FURNITURE = [
    "Advertisement",
    "Photo: Reuters",
    "Courtesy of the Ministry of Defense",
    "Bilde generert av AI",
    "By Jane Doe",
    "Reuters, May 5, 2025",
    "Japan Times16-06-2025",
    "time12 minutes ago",
    "Related Articles",
    "Relaterte artikler",
    "  • Business",
    "Share",
    "Comments",
    "No comments yet...",
    "#economy #security",
    "Latest news with #Japan",
    "Dette nettstedet bruker informasjonskapsler",
    "DOWNLOAD THE APP",
    "app-storeplay-store",
    "Orange background",
    "\u00a0\u00a0\u00a0",
    "Explore what AI can do for you:",
]
token = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(str.capitalize),
    st.sampled_from(ODD),
    st.text(min_size=1, max_size=6),  # anything at all, control characters included
)
sentence = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(token, min_size=1, max_size=25),
    st.sampled_from(["", ".", ".", "?", "!", "…", ":", ".”", "’", ",", " -"]),
)
line = st.one_of(
    st.lists(sentence, min_size=1, max_size=4).map(" ".join),
    st.sampled_from(FURNITURE),
    st.just(""),
    st.sampled_from([" ", "\t", "\u00a0", "  \u200b "]),
    st.builds(lambda s, n: " ".join([s] * n), sentence, st.integers(10, 120)),  # a long line
)
prose = st.lists(
    st.builds(
        lambda words, end: " ".join(words).capitalize() + end,
        st.lists(st.sampled_from(WORDS), min_size=3, max_size=20),
        st.sampled_from([".", ".", "?", ",", ""]),
    ),
    min_size=1,
    max_size=6,
).map(" ".join)


def wrap(text: str, width: int) -> list[str]:
    """Hard-wrap text at spaces, as an editor or a PDF extraction does."""
    lines, current = [], ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current]


block = st.one_of(
    line.map(lambda ln: [ln]),
    st.builds(wrap, prose, st.integers(30, 90)),  # a hard-wrapped paragraph
    # every wrapped line followed by a blank line, as text extracted from PDFs
    st.builds(
        lambda text, width: "\n\n".join(wrap(text, width)).split("\n"), prose, st.integers(30, 90)
    ),
)
BREAKS = st.sampled_from(["\n", "\n", "\r\n", "\r"])


@st.composite
def page(draw) -> str:
    """A scraped page: random lines, each ended by a random line break (or none at the end)."""
    lines = [ln for b in draw(st.lists(block, min_size=1, max_size=12)) for ln in b]
    breaks = draw(st.lists(BREAKS, min_size=len(lines), max_size=len(lines)))
    text = "".join(ln + br for ln, br in zip(lines, breaks, strict=True))
    return text if draw(st.booleans()) else text.rstrip("\r\n")


def editor_lines(data: bytes, encoding: str) -> list[str]:
    """Lines as an editor shows them: decoded, with universal newlines (index 0 is line 1).

    A byte-order mark that opens the text is not content (esqa drops a second one
    too, should a page begin with two).
    """
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=None).read()
    return text.removeprefix("\ufeff").split("\n")


def assert_paragraphs_match(doc, lines: list[str]) -> None:
    previous_end, previous_number = 0, 0
    for p in doc.paragraphs:
        assert previous_end < p.line_start <= p.line_end <= len(lines), p
        cited = lines[p.line_start - 1 : p.line_end]
        assert p.text == "\n".join(cited).strip(), p
        # The range is tight: the first and the last cited lines hold text.
        assert re.search(r"\w", cited[0]) and re.search(r"\w", cited[-1]), p
        assert previous_number < p.number <= p.line_start
        article = doc.article_of(p)
        assert article.line_start <= p.line_start and p.line_end <= article.line_end
        previous_end, previous_number = p.line_end, p.number


ENCODINGS = {
    # how the page is saved: (bytes, codec that reads it back)
    "utf-8": lambda text: (text.encode("utf-8"), "utf-8-sig"),
    "utf-8 BOM": lambda text: (codecs.BOM_UTF8 + text.encode("utf-8"), "utf-8-sig"),
    "utf-16 BOM": lambda text: (text.encode("utf-16"), "utf-16"),
}


@SETTINGS
@given(text=page(), save=st.sampled_from(sorted(ENCODINGS)))
def test_every_paragraph_is_its_cited_lines_of_the_decoded_file(tmp_path_factory, text, save):
    data, codec = ENCODINGS[save](text)
    root = tmp_path_factory.mktemp("page")
    write_corpus(root, {"page.txt": data})
    scan = load_corpus(root)  # never raises
    if not scan.documents:
        assert "page.txt" in scan.skipped and scan.warnings
        return
    (doc,) = scan.documents
    assert_paragraphs_match(doc, editor_lines(data, codec))


@SETTINGS
@given(data=st.binary(max_size=400) | page().map(lambda t: t.encode("utf-8")))
def test_decoding_any_bytes_gives_text_or_says_why_not(data):
    try:
        decoded = decode_bytes(data, "x.txt")
    except NotTextError as exc:
        assert "x.txt" in str(exc)
        return
    try:
        as_utf8 = data.decode("utf-8-sig").removeprefix("\ufeff")
    except UnicodeDecodeError:
        as_utf8 = None
    if as_utf8 is not None:  # valid UTF-8 is read as such, without a warning
        assert decoded.warning is None and decoded.text == as_utf8
    elif decoded.warning is None:
        assert decoded.text == data.decode(decoded.encoding).removeprefix("\ufeff")
    else:
        assert "x.txt" in decoded.warning
        assert decoded.text == data.decode(decoded.encoding)
    doc = parse_text("x.txt", decoded.text)  # never raises either
    assert_paragraphs_match(doc, editor_lines(decoded.text.encode("utf-8"), "utf-8"))


def words(texts):
    return [len(t.split()) for t in texts]


paragraph = st.one_of(
    st.lists(line, min_size=1, max_size=8).map("\n".join),
    st.text(max_size=300),
)


@SETTINGS
@given(text=paragraph, max_tokens=st.sampled_from([6, 12, 40, 256]), overlap=st.integers(0, 2))
def test_windows_are_stripped_substrings_that_lose_no_text(text, max_tokens, overlap):
    result = windows(text, words, ChunkingParams(max_tokens=max_tokens, overlap=overlap))
    covered = set()
    for window in result:
        span = window.span
        piece = text[span.start : span.end]
        assert 0 <= span.start < span.end <= len(text)
        assert piece == piece.strip()
        assert words([piece])[0] <= max_tokens - 2
        assert window.sentences, window
        assert window.sentences[0].start == span.start and window.sentences[-1].end == span.end
        for a, b in zip(window.sentences, window.sentences[1:], strict=False):
            assert a.end <= b.start
        for s in window.sentences:
            sentence_text = text[s.start : s.end]
            assert sentence_text and sentence_text == sentence_text.strip()
        covered.update(range(span.start, span.end))
    assert [w.span.start for w in result] == sorted(w.span.start for w in result)
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert lost == [], [text[i] for i in lost]


ANCHOR = "Chip export rules\n\nJapan will tighten export rules for chip tools, the ministry said.\n"


@settings(SETTINGS, max_examples=20)
@given(pages=st.lists(page(), min_size=1, max_size=3))
def test_every_hit_and_quote_stands_in_the_lines_it_cites(tmp_path_factory, pages):
    root = tmp_path_factory.mktemp("corpus")
    files = {f"p{n}.txt": text.encode("utf-8") for n, text in enumerate(pages)}
    # One ordinary article, so that the lexical index has a term (see test_bad_input.py
    # for a corpus without any).
    files["anchor.txt"] = ANCHOR.encode("utf-8")
    corpus = write_corpus(root / "corpus", files)
    api.build(corpus, root / "index", embedder=HashedEmbedder())
    qa = api.load(root / "index", corpus, embedder=HashedEmbedder(), build_if_missing=False)
    lines = {name: editor_lines(data, "utf-8-sig") for name, data in files.items()}
    for c in qa.index.chunks.values():
        assert c.text in "\n".join(lines[c.source][c.line_start - 1 : c.line_end]), c
    for question in ("what did the ministry say about export rules?", "Japan ESPA 2025"):
        for hit in qa.search(question, 5):
            cited = "\n".join(lines[hit.source][hit.chunk.line_start - 1 : hit.chunk.line_end])
            assert hit.text in cited
        for c in qa.ask(question).citations:
            cited = lines[c.source][c.line_start - 1 : c.line_end]
            assert c.quote in "\n".join(cited), c
            assert c.quote.split("\n")[0] in cited[0] and c.quote.split("\n")[-1] in cited[-1], c
