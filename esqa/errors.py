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


class QueryError(EsqaError):
    """The question or query cannot be searched (empty, only punctuation, ...)."""
