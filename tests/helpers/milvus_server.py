"""A milvus-lite server process on a free loopback port, for the tests marked `milvus`.

milvus-lite (PyPI) runs a local server speaking Milvus's gRPC protocol, the
one pymilvus uses for Milvus Standalone, Distributed and Zilliz Cloud. It is
started as a separate process, as a real server would be, and stopped after
the session. Where it cannot start (milvus-lite or pymilvus missing), the
tests skip with the reason; with `ESQA_TEST_MILVUS=required` (`.ci/run`
sets it) they fail instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.processes import stop

START_SECONDS = 90.0


def required() -> bool:
    return os.environ.get("ESQA_TEST_MILVUS", "") == "required"


def unavailable(reason: str) -> None:
    if required():
        pytest.fail(f"ESQA_TEST_MILVUS=required, but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    from pymilvus import MilvusClient

    from esqa.stores.milvus_server import GRPC_OPTIONS

    try:
        # pymilvus shares one channel per address: the probe's must have esqa's options.
        MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=2, grpc_options=GRPC_OPTIONS).close()
    except Exception:
        return False
    return True


@contextmanager
def milvus_lite_server(data: Path) -> Iterator[str]:
    """A running server's spec prefix, `milvus://127.0.0.1:PORT`; stopped on exit."""
    for module in ("milvus_lite", "pymilvus"):
        if importlib.util.find_spec(module) is None:
            unavailable(f"{module} is not installed (pip install -e '.[test]')")
    port = free_port()
    log = (data.parent / "milvus-lite.log").open("wb")
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data)]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                unavailable(f"milvus-lite did not start (see {log.name})")
            time.sleep(0.3)
        yield f"milvus://127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()
