"""Exceptions a user of esqa may catch.

Every message is one line that says what went wrong and what to do; the CLI
prints it as-is and exits non-zero, so no traceback reaches the terminal.
The two halves are attributes too: `problem` (what went wrong) and `hint`
(the command or step that repairs it), for code that words its own message.
"""

from __future__ import annotations


class EsqaError(Exception):
    """Base class for every error esqa raises on purpose."""

    exit_code = 1

    def __init__(self, problem: str, hint: str | None = None) -> None:
        super().__init__(f"{problem}; {hint}" if hint else problem)
        self.problem = problem
        self.hint = hint


class CorpusError(EsqaError):
    """The corpus directory is missing, empty or unreadable."""


class IndexMissingError(EsqaError):
    """No index exists at the given location."""

    exit_code = 2


class IndexInvalidError(EsqaError):
    """The index exists but cannot be used: wrong version, model, or a damaged file."""

    exit_code = 2


class StoreUnavailableError(EsqaError):
    """A search server cannot be reached, or does not hold what the index recorded."""


class QueryError(EsqaError):
    """The question or query cannot be searched (empty, only punctuation, ...)."""


class WriteError(EsqaError, OSError):
    """esqa could not write (disk full, read-only file system, no permission, I/O error).

    Also an OSError, so that code catching the operating system's errors still
    does. Its message says what was being written, whether the previous index
    is intact, and what to do; `errno` is the operating system's error code
    when there was one.
    """

    exit_code = 3


class IndexWriteError(WriteError):
    """Building or publishing an index failed while writing; the previous index is intact."""


class CorpusWriteError(WriteError, CorpusError):
    """Copying an article into the corpus failed (`esqa add`)."""


class IndexBusyError(EsqaError):
    """Another esqa process is writing the index (it holds the writer lock)."""


class TargetRefusedError(EsqaError):
    """The index location holds something that is not an esqa index, or overlaps the corpus."""


class SourceNotFoundError(EsqaError):
    """No indexed article file has that name (or it is gone from the corpus)."""
