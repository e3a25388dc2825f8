"""Running the web application with uvicorn on a socket of our own.

The socket is bound here, before uvicorn starts, so that a port in use is
a one-line error and `--port 0` (any free port) can say which port it got.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from esqa.api import QA
from esqa.errors import EsqaError
from esqa.web.app import create_app

# What is read of a request's line and headers: article links carry their
# quote (`esqa.web.params.MAX_QUOTE_CHARS`), longer than h11's 16 KiB default.
REQUEST_HEAD_BYTES = 64 << 10


@dataclass(frozen=True)
class Listening:
    host: str
    port: int
    loopback: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> tuple[socket.socket, Listening]:
    """A listening socket on host:port (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise EsqaError(
            f"cannot listen on {host!r} ({exc})", hint="pass --host 127.0.0.1"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise EsqaError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            hint="pick another --port, or stop the server that uses it",
        ) from None
    bound_host, bound_port = sock.getsockname()[:2]
    return sock, Listening(str(bound_host), int(bound_port), is_loopback(str(bound_host)))


def serve(
    qa: QA, host: str, port: int, announce: Callable[[Listening], None] | None = None
) -> None:
    """Serve `qa` at host:port until interrupted; `announce` is told where, once bound."""
    sock, where = bind(host, port)
    if announce is not None:
        announce(where)
    # On loopback, only the names of loopback: see `create_app`'s `hosts`.
    names = {
        "localhost",
        "127.0.0.1",
        "[::1]",
        where.host if ":" not in where.host else f"[{where.host}]",
    }
    # log_config=None: uvicorn's lines go through the root logger, which the
    # CLI filters to esqa's own lines and errors; no access log.
    config = uvicorn.Config(
        create_app(qa, hosts=names if where.loopback else None),
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        h11_max_incomplete_event_size=REQUEST_HEAD_BYTES,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
