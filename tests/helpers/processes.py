"""`esqa` in a process of its own (tests/helpers/esqa_fake.py), paused at a moment of its work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HELPER = Path(__file__).resolve().parent / "esqa_fake.py"
WAIT = 60  # seconds; only a hang ever comes close


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a server process the tests started: SIGTERM, then SIGKILL if it hangs."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Esqa:
    """`esqa ARGS...` running in another process with the fake embedder."""

    def __init__(self, tmp_path: Path, *args: object, pause_at: str = "", delay: float = 0.0):
        self.signals = tmp_path / f"signals-{time.monotonic_ns()}"
        self.signals.mkdir()
        self.pause_at = pause_at
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESQA_")}
        env.update(
            ESQA_TEST_SIGNALS=str(self.signals),
            ESQA_TEST_PAUSE_AT=pause_at,
            ESQA_TEST_EMBED_DELAY=str(delay),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(HELPER), *map(str, args)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_paused(self) -> None:
        reached = self.signals / f"{self.pause_at}.reached"
        deadline = time.monotonic() + WAIT
        while not reached.exists():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                pytest.fail(
                    f"esqa ended (status {self.proc.returncode}) before {self.pause_at}:\n{err}"
                )
            assert time.monotonic() < deadline, f"esqa never reached {self.pause_at}"
            time.sleep(0.01)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=WAIT)
        assert self.proc.returncode == -signal.SIGKILL

    def go_on(self) -> None:
        (self.signals / f"{self.pause_at}.go").touch()

    def finish(self, timeout: float = WAIT) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err
