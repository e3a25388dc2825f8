"""Checks shared by the bad-input and crash-safety tests."""

from __future__ import annotations

from click.testing import Result


def one_error_line(result: Result) -> str:
    """The command failed with one line on stderr, `esqa: error: ...`, and no traceback."""
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("esqa: error:")
    return lines[0]
