"""What the benchmarks share: the machine a result was measured on, writing it,
and timing an `esqa` command in a new process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """The machine and its load average before the run (given) and now, after it."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": load_before,
        "load_average_after": os.getloadavg(),
    }


def write_result(out: Path, result: dict[str, Any]) -> None:
    """Write the result as JSON to `out` and print it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


def timed_esqa(
    args: tuple[str, ...], env: dict[str, str], cwd: Path | None = None
) -> tuple[float, str]:
    """Wall time and stdout of `esqa ARGS` in a new process, as a user runs it.

    `python -c` rather than the installed script, so that `env`'s PYTHONPATH (and
    `cwd`) choose which checkout's esqa runs. A failure ends the benchmark.
    """
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from esqa.cli import main; main()", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"esqa {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout
