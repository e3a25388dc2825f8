"""The ASGI application of `esqa serve`: routes, templates, headers and errors.

Safe by default: every route reads (GET and HEAD only); every page is a
Jinja2 template with autoescape on, so article text is never markup; every
response forbids inline script and anything from another origin
(Content-Security-Policy); and every error is a short page or JSON object
with a 4xx or 5xx status, never a traceback, in the response or in the log.

Example: `TestClient(create_app(esqa.load())).get("/api/ask", params={"q": "..."})`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from esqa import __version__
from esqa.api import QA
from esqa.errors import EsqaError, QueryError, SourceNotFoundError
from esqa.render import describe_changes

HERE = Path(__file__).resolve().parent
T = TypeVar("T")
log = logging.getLogger("esqa.web")

# No inline script or style, nothing from another origin, no framing: an
# article that slipped markup past the escaping still could not run a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class Site:
    """What every route needs: the loaded index, one lock around it, the templates."""

    def __init__(self, qa: QA) -> None:
        self.qa = qa
        # The library's objects are not documented as thread-safe, and
        # Starlette runs blocking work on a pool of threads: one question at
        # a time (5 to 10 ms each) keeps them safe and the event loop free.
        self._lock = threading.Lock()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._stale = (
            describe_changes(qa.changes, qa.index.path, qa.corpus)
            if qa.changes is not None and qa.changes.stale
            else ("the corpus folder was not found" if qa.changes is None else "")
        )

    async def run(self, func: Callable[..., T], *args: Any, exclusive: bool = True) -> T:
        """Call the library off the event loop, one call at a time unless not `exclusive`.

        Listing the corpus reads the whole chunk table the first time (5 to
        7 s at 100,000 chunks under load, `benchmarks/serve.py`): it only
        reads cached, immutable data, so it runs beside questions rather
        than holding them up.
        """

        def call() -> T:
            if not exclusive:
                return func(*args)
            with self._lock:
                return func(*args)

        return await run_in_threadpool(call)

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        counts = self.qa.index.manifest.counts
        context.setdefault("title", "esqa")
        html = self.templates.get_template(template).render(
            stale=self._stale,
            footer=f"{counts.files:,} files, {counts.articles:,} articles, "
            f"{counts.chunks:,} passages · {self.qa.index.manifest.model.id} · esqa {__version__}",
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status)


def create_app(qa: QA, hosts: Collection[str] | None = None) -> Starlette:
    """The web application over a loaded index (`esqa.load()`).

    `hosts`: the names the server answers to (the `Host` header, without the
    port); None answers to any. A server on loopback names its own, so that
    a web page whose domain is made to resolve to 127.0.0.1 (DNS rebinding)
    cannot read it from the user's browser.
    """
    from esqa.web import jsonapi, pages

    site = Site(qa)
    routes = [
        *pages.routes(site),
        *jsonapi.routes(site),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        # Inside Starlette's own error middleware, so that an unexpected
        # exception is answered here and never reaches it (it would re-raise
        # the exception for the server to log with its traceback).
        middleware=[Middleware(_Guard, hosts=hosts)],
        exception_handlers={
            HTTPException: _http_error(site),
            EsqaError: _esqa_error(site),
        },
    )
    app.state.site = site
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(site: Site, request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    return site.page(
        request,
        "error.html",
        status=status,
        title=f"{status} · esqa",
        status_code=status,
        message=message,
    )


def _http_error(site: Site) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail
        if exc.status_code == 404 and message == "Not Found":
            message = f"there is no page at {request.url.path}; start from the ask page at /"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed here; this server only reads (GET)"
        response = error_response(site, request, exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    return handle


def _esqa_error(site: Site) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, SourceNotFoundError):
            status = 404
        elif isinstance(exc, QueryError):
            status = 400
        else:  # a damaged index, a file that changed into a binary: the message says what to do
            status = 500
            log.error("esqa: error: %s %s: %s", request.method, request.url.path, exc)
        return error_response(site, request, status, str(exc))

    return handle


class _Guard:
    """Headers on every response, the server time it took, and no traceback ever.

    Plain ASGI (no per-request task, unlike BaseHTTPMiddleware): it wraps
    `send` to add headers, and turns an unexpected exception into a 500
    response and one line in the log.
    """

    def __init__(self, app: ASGIApp, hosts: Collection[str] | None = None) -> None:
        self.app = app
        self.hosts = None if hosts is None else {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = False

        async def send_with_headers(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.start":
                sent = True
                took = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"server-timing", f"app;dur={took:.2f}".encode()),
                ]
            await send(message)

        host = _host_of(Headers(scope=scope).get("host", ""))
        if self.hosts is not None and host not in self.hosts:
            refusal = (
                f"this server answers to {', '.join(sorted(self.hosts))} only, not {host[:100]!r}; "
                "open it by one of those names"
            )
            await PlainTextResponse(refusal, status_code=400)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            log.error(
                "esqa: error: %s %s failed: %s: %s",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
                exc,
            )
            if sent:
                return  # the client got a partial response; nothing more can be said
            api = str(scope.get("path", "")).startswith("/api/")
            message = "the server failed to answer this request; its log has one line about it"
            response: Response = (
                JSONResponse({"error": message, "status": 500}, status_code=500)
                if api
                else HTMLResponse(f"<!doctype html><title>esqa: error</title><p>{message}</p>", 500)
            )
            await response(scope, receive, send_with_headers)


def _host_of(header: str) -> str:
    """The name in a `Host` header, without its port ("[::1]:8000" -> "[::1]")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.partition(":")[0]
