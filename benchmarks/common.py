"""What the benchmarks share: the machine a result was measured on, and writing it."""

from __future__ import annotations

import json
import os
import platform
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
