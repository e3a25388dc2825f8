"""`esqa serve` as a user runs it: a real uvicorn process on a loopback port (fake embedder)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest
from conftest import REPO, SEEDS
from helpers.web import esqa_serve

pytest.importorskip("uvicorn", reason="the web extra is not installed: pip install 'esqa[web]'")


def get(url: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_serve_listens_on_loopback_by_default_and_answers(fake_seed_index):
    with esqa_serve("--index", fake_seed_index, "--corpus", SEEDS, fake=True) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, headers, body = get(server.url + "api/info")
        assert status == 200 and "content-security-policy" in {k.lower() for k in headers}
        assert json.loads(body)["counts"]["files"] == 5
        status, _, body = get(server.url + "?q=what+is+ESPA%27s+fourth+pillar")
        assert status == 200 and b'class="answer"' in body
        assert "note" not in server.stderr()


def test_on_loopback_it_answers_to_loopback_names_only(fake_seed_index):
    """A page whose domain is made to resolve to 127.0.0.1 (DNS rebinding) reads nothing."""
    with esqa_serve("--index", fake_seed_index, "--corpus", SEEDS, fake=True) as server:
        port = server.url.rsplit(":", 1)[1].strip("/")
        for name in ("localhost", "127.0.0.1", "LOCALHOST"):
            assert get(server.url + "api/info", host=f"{name}:{port}")[0] == 200
        status, _, body = get(server.url + "api/info", host=f"attacker.example:{port}")
        assert status == 400 and b"this server answers to" in body
        assert b"counts" not in body


def test_serve_says_so_when_it_listens_beyond_this_machine(fake_seed_index):
    args = ("--host", "0.0.0.0", "--index", fake_seed_index, "--corpus", SEEDS)
    with esqa_serve(*args, fake=True) as server:
        note = [line for line in server.stderr().splitlines() if "note" in line]
        assert len(note) == 1 and "anyone who can reach it can read" in note[0]
        port = server.url.rsplit(":", 1)[1].strip("/")
        status, _, _ = get(f"http://127.0.0.1:{port}/api/info")  # tests talk to loopback only
        assert status == 200


def test_bad_requests_on_the_wire_are_4xx_and_the_log_has_no_traceback(fake_seed_index):
    with esqa_serve("--index", fake_seed_index, "--corpus", SEEDS, fake=True) as server:
        for path, status in (
            ("article?source=..%2F..%2Fetc%2Fpasswd", 404),
            ("article?source=%2Fetc%2Fpasswd", 404),
            ("api/ask?q=", 400),
            ("api/ask?q=" + "x" * 3000, 400),
            ("article?source=a.txt&quote=" + "q" * 30_000, 400),
            ("nowhere", 404),
        ):
            got, _, body = get(server.url + path)
            assert got == status, (path, body[:200])
            assert b"Traceback" not in body
        host, port = urllib.request.urlparse(server.url).netloc.split(":")
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 4")  # too long: refused by the server
        assert "Traceback" not in server.stderr()


def test_a_port_in_use_is_a_one_line_error(fake_seed_index):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_fake("serve", "--port", port, "--index", fake_seed_index, "--corpus", SEEDS)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"esqa: error: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "pick another --port, or stop the server that uses it"
    ]


def test_without_the_web_extra_serve_says_how_to_install_it(fake_seed_index):
    blocked = (
        "import sys\n"
        "for name in ('starlette', 'uvicorn', 'jinja2'): sys.modules[name] = None\n"
        "from esqa.cli import main\n"
        "sys.argv = ['esqa', *sys.argv[1:]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked, "serve", "--index", str(fake_seed_index)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("esqa: error: esqa serve needs ")
    assert line.endswith("install the web extra: pip install 'esqa[web]'")


def _run_fake(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "tests" / "helpers" / "esqa_fake.py"), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
