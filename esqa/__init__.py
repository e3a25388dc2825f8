"""esqa: answers from news articles, every sentence cited by file, paragraph and lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Where each export lives. They are imported on first use (PEP 562), because
# every `esqa.*` import runs this file first: importing them here would make
# `esqa --help` load numpy, FAISS and the whole pipeline before printing a line.
_EXPORTS = {
    "QA": "esqa.api",
    "IndexInfo": "esqa.api",
    "add": "esqa.api",
    "build": "esqa.api",
    "info": "esqa.api",
    "load": "esqa.api",
    "verify": "esqa.api",
    "AddedFile": "esqa.index.add",
    "AddResult": "esqa.index.add",
    "CorpusError": "esqa.errors",
    "EsqaError": "esqa.errors",
    "IndexInvalidError": "esqa.errors",
    "IndexMissingError": "esqa.errors",
    "QueryError": "esqa.errors",
    "BuildReport": "esqa.index.build",
    "CorpusChanges": "esqa.index.changes",
    "VerifyReport": "esqa.index.reader",
    "Settings": "esqa.settings",
    "Answer": "esqa.types",
    "AnswerSpan": "esqa.types",
    "Article": "esqa.types",
    "Chunk": "esqa.types",
    "Citation": "esqa.types",
    "Document": "esqa.types",
    "Hit": "esqa.types",
    "Paragraph": "esqa.types",
}

if TYPE_CHECKING:
    from esqa.api import QA, IndexInfo, add, build, info, load, verify
    from esqa.errors import (
        CorpusError,
        EsqaError,
        IndexInvalidError,
        IndexMissingError,
        QueryError,
    )
    from esqa.index.add import AddedFile, AddResult
    from esqa.index.build import BuildReport
    from esqa.index.changes import CorpusChanges
    from esqa.index.reader import VerifyReport
    from esqa.settings import Settings
    from esqa.types import (
        Answer,
        AnswerSpan,
        Article,
        Chunk,
        Citation,
        Document,
        Hit,
        Paragraph,
    )


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'esqa' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "QA",
    "AddResult",
    "AddedFile",
    "Answer",
    "AnswerSpan",
    "Article",
    "BuildReport",
    "Chunk",
    "Citation",
    "CorpusChanges",
    "CorpusError",
    "Document",
    "EsqaError",
    "Hit",
    "IndexInfo",
    "IndexInvalidError",
    "IndexMissingError",
    "Paragraph",
    "QueryError",
    "Settings",
    "VerifyReport",
    "__version__",
    "add",
    "build",
    "info",
    "load",
    "verify",
]
