"""`esqa serve` in its own process, and Debian's headless chromium driven by Selenium.

Used by the web tests and by `docs/screenshots.py`. The server is started on
`--port 0` (a free loopback port that it prints), so tests never race for a
port; it is stopped by the test that started it, by its process id.

Selenium drives `/usr/bin/chromium` through `/usr/bin/chromedriver`, both from
Debian (`chromium`, `chromium-driver`): built from one source package, the
two always match, and nothing is downloaded (Selenium Manager is not run
when the driver's path is given).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.processes import stop

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
FAKE = TESTS / "helpers" / "esqa_fake.py"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The flags the project runs chromium with: no network of its own (updates,
# sync, QUIC probes), no GPU, no sandbox (CI runs as root).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Articles that try to run script in a page, by their text and by their file name.
HOSTILE = {
    "hostile.txt": (
        "<script>window.__pwned = 1; alert('title')</script> Cabinet approves undersea cable plan\n"
        "\n"
        'The Ministry of Economy said <img src=x onerror="window.__pwned=2"> undersea cables '
        "are critical goods, and <script>window.__pwned=3</script> officials agreed.\n"
        "\n"
        '<svg onload="window.__pwned=4"></svg> Officials said the "quoted" & \'single\' change '
        "on undersea cables would take effect next year.\n"
    ),
    '"><img src=y onerror="window.__pwned=5">.txt': (
        "Rates rise again\n\nThe central bank raised its main rate on undersea cable bonds.\n"
    ),
}
HOSTILE_NAME = '"><img src=y onerror="window.__pwned=5">.txt'
_SERVING = re.compile(r"esqa: serving .* at (http://\S+) ")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        return (
            f"{' and '.join(missing)} not installed: "
            "apt-get install chromium chromium-driver (.ci/run does)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@contextmanager
def esqa_serve(*args: object, fake: bool, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Run `esqa serve ARGS... --port 0` until the block ends.

    `fake`: with the fake embedder of tests/conftest.py, else the configured model.
    Its stderr goes to a file (a pipe nobody reads could fill and stop it).
    """
    command = [str(FAKE)] if fake else ["-c", "from esqa.cli import main; main()"]
    environ = {k: v for k, v in os.environ.items() if k != "ESQA_EMBEDDER"}
    environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **(env or {}))
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "stderr"
        with log.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, *command, "serve", "--port", "0", *map(str, args)],
                cwd=REPO,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            yield Server(_wait_for_url(proc, log), proc, log)
        finally:
            stop(proc)


@dataclass
class Server:
    url: str  # "http://127.0.0.1:PORT/"
    proc: subprocess.Popen[bytes]
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _wait_for_url(proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        found = _SERVING.search(text)
        if found:
            return found.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"esqa serve ended (status {proc.returncode}):\n{text}")
        time.sleep(0.05)
    raise AssertionError(f"esqa serve did not say where it serves:\n{log.read_text()}")


def chromium(javascript: bool = True, width: int = 1200, height: int = 900) -> Any:
    """A headless chromium session (Selenium WebDriver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_ARGS, f"--window-size={width},{height}"):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
