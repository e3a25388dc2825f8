"""esqa.ingest.pages: files -> articles and paragraphs, with line numbers a user can check."""

from __future__ import annotations

import os
import threading
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import SEED_BOILERPLATE, SEED_NOT_PARAGRAPHS, SEEDS, seed_lines, write_corpus

from esqa.errors import CorpusError
from esqa.ingest.files import walk_corpus
from esqa.ingest.pages import load_corpus, parse_text


def _readable_sources(root) -> list[str]:
    """The corpus files a build reads, by source, in order."""
    return [source for source, _, left_out in walk_corpus(root) if left_out is None]


@pytest.fixture(scope="module")
def seed_scan():
    return load_corpus(SEEDS)


@pytest.fixture(scope="module")
def seed_docs(seed_scan):
    return {doc.source: doc for doc in seed_scan.documents}


def test_every_seed_file_is_loaded_without_warnings(seed_scan):
    assert sorted(d.source for d in seed_scan.documents) == sorted(p.name for p in SEEDS.iterdir())
    assert seed_scan.skipped == {}
    assert seed_scan.warnings == []


@pytest.mark.parametrize("source", sorted(SEED_BOILERPLATE))
def test_no_boilerplate_line_of_the_seeds_is_in_a_paragraph(seed_docs, source):
    lines = seed_lines(source)
    furniture = set(SEED_BOILERPLATE[source]) | set(SEED_NOT_PARAGRAPHS.get(source, []))
    inside = {
        (n, lines[n - 1])
        for p in seed_docs[source].paragraphs
        for n in range(p.line_start, p.line_end + 1)
        if n in furniture
    }
    assert inside == set()


def test_the_boilerplate_list_points_at_furniture_lines():
    # Guard against the hand-made list drifting from the files.
    assert (
        seed_lines("001_9c16898d448cd4fa.txt")[52] == "Dette nettstedet bruker informasjonskapsler"
    )
    assert seed_lines("004_55f16e264c431d7b.txt")[52] == "Hylkää"
    assert seed_lines("002_28dcf7c095409e64.txt")[81] == "app-storeplay-store"
    assert seed_lines("003_116bf12851cd3169.txt")[13] == "  • Asia Times"
    assert seed_lines("000_f449784ec6a8c697.txt")[39] == "Related Tags"


@pytest.mark.parametrize("source", sorted(SEED_BOILERPLATE))
def test_paragraph_text_is_verbatim_from_its_cited_lines(seed_docs, source):
    lines = seed_lines(source)
    paragraphs = seed_docs[source].paragraphs
    assert paragraphs
    for p in paragraphs:
        assert 1 <= p.line_start <= p.line_end <= len(lines)
        assert p.text.strip()
        assert p.text in "\n".join(lines[p.line_start - 1 : p.line_end])


@pytest.mark.parametrize("source", sorted(SEED_BOILERPLATE))
def test_paragraph_numbers_are_1_based_and_increasing(seed_docs, source):
    numbers = [p.number for p in seed_docs[source].paragraphs]
    assert numbers[0] >= 1
    assert all(a < b for a, b in pairwise(numbers))
    starts = [p.line_start for p in seed_docs[source].paragraphs]
    assert starts == sorted(starts)


def test_tag_page_003_holds_three_articles_with_publishers_and_dates(seed_docs):
    doc = seed_docs["003_116bf12851cd3169.txt"]
    got = [(a.title, a.publisher, a.published, a.teaser) for a in doc.articles]
    assert got == [
        (
            "Japan sets the pace for private sector economic security management",
            "Asia Times",
            "2025-05-05",
            False,
        ),
        (
            "METI may list undersea cables and satellites as critical for economic security",
            "Japan Times",
            "2025-04-16",
            False,
        ),
        (
            "Trump's actions and the \u2018new national security economy'",
            "Japan Times",
            "2025-03-19",
            False,
        ),
    ]


def test_each_article_of_003_has_its_own_body_paragraph(seed_docs):
    doc = seed_docs["003_116bf12851cd3169.txt"]
    bodies = {(p.article, p.line_start) for p in doc.paragraphs if p.kind == "body"}
    assert bodies == {(1, 18), (2, 32), (3, 46)}


def test_a_headline_repeated_three_times_is_one_title_not_three_paragraphs(seed_docs):
    doc = seed_docs["003_116bf12851cd3169.txt"]
    headline = seed_lines("003_116bf12851cd3169.txt")[5]
    assert seed_lines("003_116bf12851cd3169.txt")[6] == headline
    assert seed_lines("003_116bf12851cd3169.txt")[15] == headline
    copies = [p for p in doc.paragraphs if p.text == headline]
    assert len(copies) <= 1
    assert not {7, 16} & {p.line_start for p in doc.paragraphs}
    assert doc.articles[0].title == headline


def test_publisher_glued_to_date_in_002(seed_docs):
    article = seed_docs["002_28dcf7c095409e64.txt"].articles[0]
    assert article.title == "Japan and the U.S. face challenges in economic security discussions"
    assert article.publisher == "Japan Times"
    assert article.published == "2025-06-16"
    assert article.teaser is False


@pytest.mark.parametrize(
    "source, label_line",
    [
        ("001_9c16898d448cd4fa.txt", 18),  # Relaterte artikler
        ("002_28dcf7c095409e64.txt", 36),  # Related Articles
        ("004_55f16e264c431d7b.txt", 15),  # Liittyvät artikkelit
    ],
)
def test_paragraphs_after_related_articles_belong_to_teasers(seed_docs, source, label_line):
    doc = seed_docs[source]
    after = [p for p in doc.paragraphs if p.line_start > label_line]
    before = [p for p in doc.paragraphs if p.line_end < label_line and p.kind == "body"]
    assert after and before
    assert all(doc.article_of(p).teaser for p in after)
    assert not any(doc.article_of(p).teaser for p in before)


def test_main_articles_are_not_teasers(seed_docs):
    for source in ("000_f449784ec6a8c697.txt", "003_116bf12851cd3169.txt"):
        assert not any(a.teaser for a in seed_docs[source].articles)
    for source in ("001_9c16898d448cd4fa.txt", "002_28dcf7c095409e64.txt"):
        assert seed_docs[source].articles[0].teaser is False


ARTICLE = [
    "Japan tightens chip export rules",
    "",
    "Japan Times, March 3, 2025",
    "",
    "Japan will tighten controls on exports of chip-making equipment, the trade ministry "
    "said on Tuesday, citing risks to national security.",
    "",
    "The new rules, which take effect in April, cover 23 types of tools used to make "
    "advanced semiconductors, officials said.",
    "",
    "Industry groups asked for clear guidance on how companies should report shipments.",
    "",
]


def test_crlf_file_has_the_same_paragraph_lines_as_lf(tmp_path):
    text = "\n".join(ARTICLE)
    write_corpus(tmp_path / "lf", {"a.txt": text.encode("utf-8")})
    write_corpus(tmp_path / "crlf", {"a.txt": text.replace("\n", "\r\n").encode("utf-8")})
    lf = load_corpus(tmp_path / "lf").documents[0]
    crlf = load_corpus(tmp_path / "crlf").documents[0]
    got = [(p.number, p.line_start, p.line_end, p.text) for p in crlf.paragraphs]
    assert got == [(p.number, p.line_start, p.line_end, p.text) for p in lf.paragraphs]
    assert [p.line_start for p in crlf.paragraphs if p.kind == "body"] == [5, 7, 9]
    assert all("\r" not in p.text for p in crlf.paragraphs)


def test_old_mac_cr_file_counts_lines_like_an_editor(tmp_path):
    text = "\r".join(ARTICLE)
    write_corpus(tmp_path, {"a.txt": text})
    doc = load_corpus(tmp_path).documents[0]
    assert [p.line_start for p in doc.paragraphs if p.kind == "body"] == [5, 7, 9]


WRAPPED = [
    "METI widens list of critical goods",  # 1
    "",  # 2
    "The Ministry of Economy, Trade and Industry plans to add new items,",  # 3
    "including undersea cables and satellites, to the list of critical",  # 4
    "products covered by the economic security law. Officials said the",  # 5
    "change would take effect next year after a public comment period.",  # 6
    "",  # 7
    "Industry groups welcomed the plan but asked for clear guidance on how",  # 8
    "companies should report their supply chains, and for financial support",  # 9
    "for smaller firms that lack the staff to do so.",  # 10
    "",
]


def test_hard_wrapped_paragraph_is_one_paragraph_over_several_lines():
    doc = parse_text("w.txt", "\n".join(WRAPPED))
    body = [(p.line_start, p.line_end) for p in doc.paragraphs if p.kind == "body"]
    assert body == [(3, 6), (8, 10)]
    first = next(p for p in doc.paragraphs if p.line_start == 3)
    assert first.text == "\n".join(WRAPPED[2:6])


def test_hard_wrapped_paragraph_with_a_sentence_ending_at_a_line_end_is_one_paragraph():
    lines = [
        "Japan tightens chip export rules",  # 1
        "",  # 2
        "Japan will tighten controls on exports of chip-making equipment, the",  # 3
        "trade ministry said on Tuesday, citing risks to national security.",  # 4
        "The new rules, which take effect in April, cover 23 types of tools",  # 5
        "used to make advanced semiconductors, officials said.",  # 6
        "",  # 7
        "Industry groups asked for clear guidance on how companies should",  # 8
        "report shipments, and for support for smaller firms.",  # 9
        "",
    ]
    doc = parse_text("w.txt", "\n".join(lines))
    body = [(p.line_start, p.line_end) for p in doc.paragraphs if p.kind == "body"]
    assert body == [(3, 6), (8, 9)]


def test_a_sentence_broken_by_a_blank_line_stays_one_paragraph():
    lines = [
        "Chest imaging in the outbreak",  # 1
        "",  # 2
        "Typical CT findings help the diagnosis. In our opinion, the major role of CT is",  # 3
        "",  # 4
        "to follow the extent and evolution of lung lesions.",  # 5
        "",  # 6
        "A second paragraph starts here and ends with a full stop.",  # 7
        "",  # 8
        "and a lower-case line after a finished sentence is its own paragraph.",  # 9
    ]
    doc = parse_text("pdf.txt", "\n".join(lines))
    body = [(p.line_start, p.line_end) for p in doc.paragraphs if p.kind == "body"]
    assert body == [(3, 5), (7, 7), (9, 9)]
    assert doc.paragraphs[1].text == "\n".join(lines[2:5])


def test_a_lead_in_colon_before_a_lower_case_list_stays_one_paragraph():
    lines = [
        "The people were divided into five compartments:",
        "",
        "susceptible, exposed, symptomatic, asymptomatic and removed people.",
        "",
        "The survey was published in May:",
        "",
        "Officials welcomed it.",
        "",
        "Species-specific characteristics of human coronavirus infection",
        "",
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC5820427/",
    ]
    doc = parse_text("pdf.txt", "\n".join(lines))
    assert [(p.line_start, p.line_end) for p in doc.paragraphs][:3] == [(1, 3), (5, 5), (7, 7)]
    assert not any(p.line_start <= 9 < 11 <= p.line_end for p in doc.paragraphs)


def test_one_paragraph_per_line_without_blank_lines_stays_separate():
    lines = [
        "Rates rise again",
        "The central bank raised its main rate by a quarter point on Tuesday.",
        "Economists had expected the move, which takes the rate to a 17-year high.",
        "Markets barely reacted to the announcement, traders said.",
    ]
    doc = parse_text("p.txt", "\n".join(lines))
    body = [(p.line_start, p.line_end) for p in doc.paragraphs if p.kind == "body"]
    assert body == [(2, 2), (3, 3), (4, 4)]


def test_load_corpus_skips_empty_and_binary_files_with_a_reason(tmp_path):
    write_corpus(
        tmp_path,
        {
            "good.txt": "\n".join(ARTICLE),
            "empty.txt": b"",
            "blank.txt": b"  \n\n",
            "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00",
        },
    )
    scan = load_corpus(tmp_path)
    assert [d.source for d in scan.documents] == ["good.txt"]
    assert set(scan.skipped) == {"empty.txt", "blank.txt", "image.txt"}
    assert all(any(name in w for w in scan.warnings) for name in scan.skipped)


def test_load_corpus_reports_a_cp1252_file_and_keeps_its_text(tmp_path):
    body = "The café owner said “business is booming” after the festival this week."
    write_corpus(tmp_path, {"old.txt": f"Café booms\r\n\r\n{body}\r\n".encode("cp1252")})
    scan = load_corpus(tmp_path)
    doc = scan.documents[0]
    assert doc.encoding == "cp1252"
    assert any("old.txt" in w and "cp1252" in w for w in scan.warnings)
    assert body in [p.text for p in doc.paragraphs]


def test_corpus_files_are_found_recursively_with_posix_sources(tmp_path):
    write_corpus(
        tmp_path,
        {"b.txt": "x", "sub/a.txt": "x", "notes.md": "x", ".hidden.txt": "x", ".git/c.txt": "x"},
    )
    (tmp_path / "link.txt").symlink_to(tmp_path / "b.txt")
    assert _readable_sources(tmp_path) == ["b.txt", "sub/a.txt"]


def test_a_missing_corpus_directory_raises_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(Path(tmp_path / "nope"))


GOOD = "Rates rise\n\nThe central bank raised its main rate by a quarter point on Tuesday.\n"


def test_a_named_pipe_is_skipped_with_a_warning_instead_of_blocking(tmp_path):
    write_corpus(tmp_path, {"good.txt": GOOD})
    os.mkfifo(tmp_path / "pipe.txt")
    scans = []
    reader = threading.Thread(target=lambda: scans.append(load_corpus(tmp_path)), daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():  # blocked opening the pipe: give it a writer so the thread ends
        os.close(os.open(tmp_path / "pipe.txt", os.O_WRONLY))
        pytest.fail("load_corpus blocked reading a named pipe")
    (scan,) = scans
    assert [d.source for d in scan.documents] == ["good.txt"]
    assert any("pipe.txt" in w and "not a regular file" in w for w in scan.warnings)
    assert "pipe.txt" not in scan.skipped  # nothing may ever read (or hash) it
    assert _readable_sources(tmp_path) == ["good.txt"]


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_readable_warning(tmp_path):
    write_corpus(tmp_path, {"good.txt": GOOD})
    with open(os.fsencode(tmp_path) + b"/caf\xe9.txt", "wb") as f:  # a Latin-1 name
        f.write(GOOD.encode("utf-8"))
    scan = load_corpus(tmp_path)
    assert [d.source for d in scan.documents] == ["good.txt"]
    (warning,) = scan.warnings
    assert "caf\\xe9.txt" in warning and "rename" in warning
    warning.encode("utf-8")  # printable and storable in the manifest
    assert _readable_sources(tmp_path) == ["good.txt"]


def test_a_symlinked_folder_is_not_entered(tmp_path):
    outside = write_corpus(tmp_path / "outside", {"secret.txt": GOOD.replace("bank", "vault")})
    corpus = write_corpus(tmp_path / "corpus", {"good.txt": GOOD})
    (corpus / "more").symlink_to(outside, target_is_directory=True)
    (corpus / "more.txt").symlink_to(outside, target_is_directory=True)
    assert _readable_sources(corpus) == ["good.txt"]
    scan = load_corpus(corpus)
    assert [d.source for d in scan.documents] == ["good.txt"]
    assert not scan.skipped and not any("secret" in w for w in scan.warnings)


def test_the_corpus_listing_names_every_file_once_in_source_order(tmp_path):
    names = [f"{d}/{n}.txt" for d in ("b", "a/z", "a", "c/d/e") for n in ("y", "x10", "x2")]
    write_corpus(tmp_path, dict.fromkeys(names + ["top.txt"], GOOD))
    sources = _readable_sources(tmp_path)
    assert sources == sorted(names + ["top.txt"])


def test_a_symlink_out_of_the_corpus_is_not_read_and_is_reported(tmp_path):
    outside = write_corpus(tmp_path / "outside", {"secret.txt": GOOD.replace("bank", "vault")})
    corpus = write_corpus(tmp_path / "corpus", {"good.txt": GOOD})
    (corpus / "link.txt").symlink_to(outside / "secret.txt")
    scan = load_corpus(corpus)
    assert [d.source for d in scan.documents] == ["good.txt"]
    assert any("link.txt" in w and "symbolic link" in w for w in scan.warnings)
    assert "link.txt" not in scan.skipped
