"""esqa: answers from news articles, every sentence cited by file, paragraph and lines."""

__version__ = "0.1.0"

from esqa.add import AddedFile, AddResult  # noqa: E402
from esqa.api import QA, IndexInfo, add, build, info, load  # noqa: E402
from esqa.errors import (  # noqa: E402
    CorpusError,
    EsqaError,
    IndexInvalidError,
    IndexMissingError,
    QueryError,
)
from esqa.index import BuildReport, CorpusChanges  # noqa: E402
from esqa.types import Article, Chunk, Document, Hit, Paragraph  # noqa: E402

__all__ = [
    "QA",
    "AddResult",
    "AddedFile",
    "Article",
    "BuildReport",
    "Chunk",
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
    "__version__",
    "add",
    "build",
    "info",
    "load",
]
