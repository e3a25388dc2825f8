"""Reading a request's query parameters, with a clear 400 for anything malformed.

Every parameter is text from the network: lengths are bounded before any of
it reaches the library, and a bad value is an `HTTPException` whose detail
says what to send instead.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from esqa.index.search import MAX_QUERY_CHARS

# The library reads at most this much of a question (the model reads 256
# word pieces); a longer one is refused rather than silently cut.
MAX_QUESTION_CHARS = MAX_QUERY_CHARS
# A quote to mark in the article view: a citation's quote is a few
# sentences, a search hit's passage at most 256 word pieces (some 1,500
# characters). Encoded in a link, 4,000 characters stay within the 64 KiB
# that the server reads of a request line (`esqa.web.server`).
MAX_QUOTE_CHARS = 4_000
MAX_NAME_CHARS = 1_000  # a source name (a path inside the corpus)


def bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def shown(value: str) -> str:
    """A refused question as the box shows it again to be corrected: cut, without NULs."""
    return value[:MAX_QUESTION_CHARS].replace("\x00", "")


def text(params: QueryParams, name: str, limit: int, what: str) -> str | None:
    """The parameter's value (None when absent), refused when longer than `limit`."""
    value = params.get(name)
    if value is None:
        return None
    if len(value) > limit:
        raise bad_request(f"the {what} is {len(value):,} characters long; send at most {limit:,}")
    if "\x00" in value:
        raise bad_request(f"the {what} holds a NUL character; send plain text")
    return value


def question(params: QueryParams, name: str = "q", what: str = "question") -> str | None:
    """The question (None when the parameter is absent); 400 when empty or huge."""
    value = text(params, name, MAX_QUESTION_CHARS, what)
    if value is not None and not value.strip():
        raise bad_request(f"the {what} is empty; type a {what}")
    return value


def integer(params: QueryParams, name: str, default: int | None, low: int, high: int) -> int | None:
    """An integer parameter within [low, high]; `default` when absent or empty."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if len(value) > 12 or not (value.isascii() and value.isdigit()):
        raise bad_request(f"{name} must be a whole number from {low} to {high}")
    number = int(value)
    if not low <= number <= high:
        raise bad_request(f"{name} must be from {low} to {high}, not {number}")
    return number
