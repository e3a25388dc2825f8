"""`esqa serve` in a real browser: Debian's headless chromium, driven by Selenium.

Skipped where chromium or its driver is not installed (`.ci/run` installs
them); with ESQA_TEST_BROWSER=required, as `.ci/run` sets it, they fail instead.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SEEDS, write_corpus
from helpers.web import HOSTILE, HOSTILE_NAME, browser_missing, chromium, esqa_serve

pytestmark = pytest.mark.browser

QUESTION = "what is ESPA's fourth pillar"
PILLAR_FILE = "003_116bf12851cd3169.txt"
WAIT = 60  # seconds; the first answer of a new process loads the model


def _unavailable() -> None:
    why = browser_missing()
    if why and os.environ.get("ESQA_TEST_BROWSER") == "required":
        pytest.fail(f"the browser tests must run here: {why}")
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _unavailable()
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def seeds_server(browser, onnx_cache, tmp_path_factory):
    """`esqa serve` on the seeds indexed as `esqa index build` indexes them (ONNX int8)."""
    from esqa.embed.onnx_runtime import OnnxEmbedder
    from esqa.index.build import build_index

    index = tmp_path_factory.mktemp("browser") / "idx"
    build_index(SEEDS, index, OnnxEmbedder(cache=onnx_cache, precision="int8"))
    args = ("--index", index, "--corpus", SEEDS)
    with esqa_serve(*args, fake=False, env={"ESQA_CACHE": str(onnx_cache)}) as server:
        yield server


def wait_until(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition)


def in_view(driver: Any, element: Any, whole: bool = False) -> bool:
    """Whether the element is on screen (entirely, with `whole`)."""
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "if (r.width === 0 || r.height === 0) return false;"
        "return arguments[1] ? r.top >= 0 && r.bottom <= innerHeight"
        "                    : r.bottom > 0 && r.top < innerHeight;",
        element,
        whole,
    )


def background(driver: Any, element: Any) -> str:
    return driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", element)


def check_line_18_is_cited_and_in_view(driver: Any, span: dict[str, Any] | None) -> None:
    from selenium.webdriver.common.by import By

    wait_until(driver, lambda d: d.find_elements(By.ID, "L18"))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(driver.current_url).query)
    assert query["source"] == [PILLAR_FILE]
    line = driver.find_element(By.ID, "L18")
    assert line.get_attribute("class").split() == ["line", "cited"]
    assert background(driver, line) != background(driver, driver.find_element(By.ID, "L17"))
    assert in_view(driver, line)
    quote = driver.find_element(By.ID, "quote")  # the quote, marked inside line 18
    assert quote.tag_name == "mark" and "secret patent system" in quote.text
    assert in_view(driver, quote, whole=True)
    spans = [m.text for m in quote.find_elements(By.CSS_SELECTOR, "mark.span")]
    assert spans == ([span["text"]] if span else [])  # the answer's span, inside the quote


def _api_span(base: str) -> dict[str, Any] | None:
    """The answer's span as the JSON API gives it (None when the composer gives none)."""
    url = f"{base}api/ask?{urllib.parse.urlencode({'q': QUESTION})}"
    span: dict[str, Any] | None = json.loads(urllib.request.urlopen(url, timeout=WAIT).read())[
        "answer_span"
    ]
    return span


@pytest.mark.real
def test_an_answer_appears_in_place_and_citation_1_opens_line_18(browser, seeds_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(seeds_server.url)
    box = browser.switch_to.active_element  # the question box has focus on load
    assert box.get_attribute("id") == "q"
    browser.execute_script("window.esqaMarker = 'the same page'")
    box.send_keys(QUESTION, Keys.ENTER)  # Enter asks
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#answer p.answer"))
    answer = browser.find_element(By.CSS_SELECTOR, "#answer p.answer")
    assert "secret patent system" in answer.text
    # Shown without a full reload, at an address that can be shared.
    assert browser.execute_script("return window.esqaMarker") == "the same page"
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)["q"] == [
        QUESTION
    ]
    span = _api_span(seeds_server.url)
    marks = [m.text for m in answer.find_elements(By.CSS_SELECTOR, "mark.span")]
    if span:  # the composer names the answer's span: it is highlighted
        assert "secret patent system" in span["text"] and marks == [span["text"]]
    else:
        assert marks == []

    browser.find_element(By.CSS_SELECTOR, "#c1 a.cite").click()
    check_line_18_is_cited_and_in_view(browser, span)

    browser.find_element(By.PARTIAL_LINK_TEXT, "Back to the answer").click()
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#answer p.answer"))
    assert "secret patent system" in browser.find_element(By.ID, "answer").text


@pytest.mark.real
def test_without_javascript_asking_and_the_article_view_still_work(browser, seeds_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = chromium(javascript=False)
    try:
        driver.get(seeds_server.url)
        driver.find_element(By.ID, "q").send_keys(QUESTION, Keys.ENTER)
        wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#answer p.answer"))
        assert "secret patent system" in driver.find_element(By.ID, "answer").text
        driver.find_element(By.CSS_SELECTOR, "#c1 a.cite").click()
        check_line_18_is_cited_and_in_view(driver, _api_span(seeds_server.url))
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def hostile_server(browser, tmp_path_factory):
    corpus = write_corpus(tmp_path_factory.mktemp("hostile") / "corpus", HOSTILE)
    with esqa_serve("--index", corpus.parent / "idx", "--corpus", corpus, fake=True) as server:
        yield server


def _no_script_ran(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        pass
    else:
        pytest.fail(f"an alert opened: {text!r}")
    assert driver.execute_script("return window.__pwned") is None
    assert driver.execute_script("return document.images.length") == 0
    assert driver.execute_script("return document.querySelectorAll('svg').length") == 0


def test_a_hostile_article_runs_no_script_on_any_page(browser, hostile_server):
    from selenium.webdriver.common.by import By

    base = hostile_server.url
    quote = urllib.parse.quote("<script>window.__pwned=3</script>")
    pages = [
        "corpus",
        f"article?source=hostile.txt&start=1&end=5&quote={quote}&q=%3Cscript%3E",
        "article?source=" + urllib.parse.quote(HOSTILE_NAME),
        "search?q=undersea+cables&k=10",
        "?q=what+do+officials+say+about+undersea+cables",
    ]
    for page in pages:
        browser.get(base + page)
        wait_until(browser, lambda d: d.find_elements(By.TAG_NAME, "footer"))
        _no_script_ran(browser)
    # The markup is shown as the text it is.
    browser.get(base + pages[1])
    assert "<script>window.__pwned = 1;" in browser.find_element(By.ID, "L1").text
    assert "<script>window.__pwned=3</script>" in browser.find_element(By.ID, "quote").text
    browser.get(base + "corpus")
    assert HOSTILE_NAME in browser.find_element(By.TAG_NAME, "tbody").text


def test_the_policy_blocks_inline_handlers_even_if_markup_got_in(browser, hostile_server):
    browser.get(hostile_server.url)
    # As if an article's markup had slipped past the escaping.
    browser.execute_script(
        "document.body.insertAdjacentHTML('beforeend',"
        ' \'<img src="/static/nothing.png" onerror="window.__pwned=6">\')'
    )
    browser.execute_script("return new Promise(r => setTimeout(r, 500))")
    assert browser.execute_script("return window.__pwned") is None
    logs = [e["message"] for e in browser.get_log("browser")]
    assert any("Content Security Policy" in m for m in logs), logs
