"""Page furniture is never a paragraph; article text that merely uses the same words is kept.

Tested through `esqa.ingest.pages.parse_text` (what the index ingests) on pages
written here, plus `esqa.ingest.boilerplate.parse_dateline` for glued datelines.
"""

from __future__ import annotations

import pytest

from esqa.ingest.boilerplate import parse_dateline
from esqa.ingest.pages import parse_text

BODY_1 = (
    "The central bank raised its main interest rate by a quarter point on Tuesday, "
    "citing persistent inflation in services and a tight labour market."
)
BODY_2 = (
    "Economists had expected the move, which takes the rate to its highest level since 2008, "
    "and markets barely reacted to the announcement."
)

# line number (1-based) -> line
PAGE = [
    "Central bank raises rates again",  # 1 title
    "",  # 2
    "Reuters, May 5, 2025",  # 3 dateline
    "time3 hours ago",  # 4 relative time
    "  • Politics",  # 5 bullet
    "  • Economy",  # 6 bullet
    "",  # 7
    "Photo: Reuters",  # 8 image credit
    "Governor Jane Smith speaks at a news conference in the capital.",  # 9 caption
    "",  # 10
    BODY_1,  # 11
    "",  # 12
    BODY_2,  # 13
    "",  # 14
    "Share",  # 15
    "Download our app on the App Store and Google Play",  # 16 app promo
    "Get it on Google Play",  # 17
    "",  # 18
    "This website uses cookies to improve your experience. "
    "We use cookies to personalise content and ads, and to analyse our traffic.",  # 19
    "Accept",  # 20
    "Reject all",  # 21
]
FURNITURE = {4, 5, 6, 8, 15, 16, 17, 19, 20, 21}


def _paragraph_lines(text: str) -> dict[int, str]:
    doc = parse_text("page.txt", text)
    covered: dict[int, str] = {}
    for p in doc.paragraphs:
        for line in range(p.line_start, p.line_end + 1):
            covered[line] = p.kind
    return covered


def test_furniture_lines_of_an_english_page_are_never_paragraphs():
    covered = _paragraph_lines("\n".join(PAGE))
    assert sorted(FURNITURE & covered.keys()) == []


def test_the_article_text_of_the_page_is_kept_as_body():
    covered = _paragraph_lines("\n".join(PAGE))
    assert covered.get(11) == "body"
    assert covered.get(13) == "body"


def test_caption_next_to_a_credit_is_not_body_text():
    covered = _paragraph_lines("\n".join(PAGE))
    assert 8 not in covered
    assert covered.get(9, "caption") == "caption"


def test_page_metadata_is_read_into_the_article():
    doc = parse_text("page.txt", "\n".join(PAGE))
    assert len(doc.articles) == 1
    article = doc.articles[0]
    assert article.title == "Central bank raises rates again"
    assert article.published == "2025-05-05"
    assert article.teaser is False


@pytest.mark.parametrize(
    "sentence",
    [
        "The bakery sold 500 cookies on Monday, the owner said, adding that demand had doubled.",
        "Regulators in Brussels said the new rules on tracking cookies would apply to every "
        "online retailer operating in the bloc from next January.",
    ],
)
def test_a_news_sentence_that_mentions_cookies_is_kept(sentence):
    text = f"Bakery booms\n\n{BODY_1}\n\n{sentence}\n"
    doc = parse_text("page.txt", text)
    assert sentence in [p.text for p in doc.paragraphs]


def test_a_quote_with_we_and_cookies_is_kept():
    sentence = (
        "'We sold out of cookies by noon,' the owner said, adding that demand had doubled "
        "since the festival began last week."
    )
    doc = parse_text("page.txt", f"Bakery booms\n\n{BODY_1}\n\n{sentence}\n")
    assert sentence in [p.text for p in doc.paragraphs]


@pytest.mark.parametrize(
    "sentence",
    [
        "Apple said on Tuesday it would cut App Store fees for small developers to 15%, "
        "following pressure from regulators in Japan and the European Union.",
        "Users in Japan will be able to download apps from rival stores from December, "
        "under a law that took effect this year.",
    ],
)
def test_news_about_app_stores_is_kept(sentence):
    doc = parse_text("page.txt", f"App store rules\n\n{BODY_1}\n\n{sentence}\n")
    assert sentence in [p.text for p in doc.paragraphs]


def test_a_short_sentence_starting_with_topics_is_kept():
    sentence = "Topics discussed at the summit included rare earths."
    doc = parse_text("page.txt", f"Summit ends\n\n{BODY_1}\n\n{sentence}\n")
    assert sentence in [p.text for p in doc.paragraphs]


def test_lines_of_non_breaking_spaces_are_blank_not_paragraphs():
    text = f"Rates rise\n\n{BODY_1}\n\u00a0\n\u00a0\u00a0\n{BODY_2}\n"
    doc = parse_text("page.txt", text)
    assert [p.line_start for p in doc.paragraphs if p.kind == "body"] == [3, 6]
    assert all(p.text.strip("\u00a0 ") for p in doc.paragraphs)


def test_machine_generated_image_credits_are_dropped():
    text = "\n".join(
        [
            "Forum opens in Tokyo",  # 1
            "",
            "Bilde generert av AI",  # 3
            "",
            BODY_1,  # 5
            "",
            "AI:n luoma kuva",  # 7
            "Image generated by AI",  # 8
            "",
            BODY_2,  # 10
        ]
    )
    covered = _paragraph_lines(text)
    assert not {3, 7, 8} & covered.keys()
    assert covered.get(5) == "body" and covered.get(10) == "body"


@pytest.mark.parametrize(
    "line, publisher, published",
    [
        ("Japan Times16-06-2025", "Japan Times", "2025-06-16"),
        ("time05-05-2025", None, "2025-05-05"),
        ("Reuters, May 5, 2025", "Reuters", "2025-05-05"),
        ("2025-03-19", None, "2025-03-19"),
    ],
)
def test_datelines_glued_to_publishers_are_parsed(line, publisher, published):
    dateline = parse_dateline(line)
    assert dateline is not None
    assert dateline.publisher == publisher
    assert dateline.published == published


@pytest.mark.parametrize(
    "line",
    [
        "The law took effect on May 5, 2025.",
        "Shares fell 3% after the company said quarterly profit would miss forecasts.",
    ],
)
def test_sentences_are_not_datelines(line):
    assert parse_dateline(line) is None
