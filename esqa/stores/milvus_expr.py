"""What esqa says to a Milvus server in words: the store spec, and filter expressions.

A spec names a server and a collection: `milvus://HOST:PORT/COLLECTION`.

Filters name source files, and a file name may hold any character: quotes,
backslashes, braces, `" or key > 0 or "`. Milvus 2.4+ takes template values
for such strings (`source == {s}` with `filter_params`), but milvus-lite
3.2.2 ignores them and rejects the braces, so every string is written as a
quoted literal with the escapes that both grammars define (Milvus's
`Plan.g4` and milvus-lite's filter tokenizer): backslash, double quote, and
the control characters `\\n`, `\\r`, `\\t`. No other character needs one, and
a name with any other control character is refused rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SCHEME = "milvus://"
# Milvus's own rule for collection and alias names (letters, digits and
# underscores, not starting with a digit, at most 255 characters), shortened
# to leave room for the suffix of each build's collection.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class MilvusSpec:
    """A Milvus server and the collection (an alias, once built) esqa keeps there."""

    host: str
    port: int
    collection: str

    @property
    def uri(self) -> str:
        """The address pymilvus connects to."""
        return f"http://{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{SCHEME}{self.host}:{self.port}/{self.collection}"


def is_milvus_spec(text: str) -> bool:
    return text.startswith(SCHEME)


def parse_spec(text: str) -> MilvusSpec:
    """The spec `milvus://HOST:PORT/COLLECTION`; ValueError says what is wrong with another."""
    example = f"{SCHEME}localhost:19530/news"
    if not is_milvus_spec(text):
        raise ValueError(f"store {text!r} is neither 'embedded' nor {SCHEME}HOST:PORT/COLLECTION")
    address, _, collection = text[len(SCHEME) :].partition("/")
    where = _HOST_PORT.fullmatch(address)
    if where is None or not 0 < int(where["port"]) < 65536:
        raise ValueError(f"store {text!r} has no HOST:PORT (e.g. {example})")
    if not _NAME.fullmatch(collection):
        raise ValueError(
            f"store {text!r} names no valid collection (letters, digits and underscores, "
            f"not starting with a digit; e.g. {example})"
        )
    return MilvusSpec(where["host"], int(where["port"]), collection)


def quoted(value: str) -> str:
    """`value` as a double-quoted string literal of a Milvus filter expression."""
    bad = next((ch for ch in value if ord(ch) < 32 and ch not in _ESCAPES), None)
    if bad is not None:
        raise ValueError(
            f"{value!r} holds the control character {bad!r}, which filters cannot name"
        )
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def one_of(field: str, values: Iterable[str]) -> str:
    """The filter `field in ["a", "b"]`, every value quoted."""
    return f"{field} in [{', '.join(quoted(v) for v in values)}]"


def visible_at(generation: int, changed: Iterable[str], previous_changed: Iterable[str]) -> str:
    """The rows a reader of `generation` sees (see `esqa.stores.milvus`).

    A row is born in a generation; a source changed (or removed) in a
    generation retires its rows born before it. Rows retired before the
    previous generation are deleted by then, so two lists are enough.
    """
    parts = [f"born <= {generation}"]
    for born_before, sources in ((generation, changed), (generation - 1, previous_changed)):
        names = sorted(sources)
        if names:
            parts.append(f"not (born < {born_before} and {one_of('source', names)})")
    return " and ".join(parts)
