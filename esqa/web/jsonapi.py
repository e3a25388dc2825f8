"""The JSON API: the objects `esqa ask --json`, `esqa search --json` and `esqa info --json` print.

One schema: each endpoint returns the library's own `to_dict()`. Each
endpoint's docstring holds its OpenAPI description after `---`; Starlette's
schema generator collects them into `/api/openapi.json`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from esqa import __version__, settings
from esqa.web import params

if TYPE_CHECKING:
    from esqa.web.app import Site

_CITATION = {
    "type": "object",
    "required": ["source", "paragraph", "line_start", "line_end", "quote", "score"],
    "properties": {
        "source": {"type": "string", "description": "the file, relative to the corpus root"},
        "paragraph": {"type": "integer", "description": "1-based paragraph of the file"},
        "line_start": {"type": "integer", "description": "first cited line, 1-based"},
        "line_end": {"type": "integer", "description": "last cited line"},
        "quote": {"type": "string", "description": "an exact substring of the cited lines"},
        "score": {"type": "number"},
        "article_title": {"type": "string", "nullable": True},
        "published": {"type": "string", "nullable": True, "description": "ISO 8601 date"},
    },
}
_ANSWER = {
    "type": "object",
    "required": ["question", "answered", "answer", "answer_span", "confidence", "citations"],
    "properties": {
        "question": {"type": "string"},
        "answered": {"type": "boolean", "description": "false: the articles do not answer"},
        "answer": {"type": "string", "description": "verbatim sentences from the articles"},
        "answer_span": {
            "type": "object",
            "nullable": True,
            "description": "the phrase that answers, inside the first citation's quote: "
            "quote[start:end] == text; null for list, reason and definition answers",
            "required": ["text", "start", "end"],
            "properties": {
                "text": {"type": "string"},
                "start": {"type": "integer"},
                "end": {"type": "integer"},
            },
        },
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "citations": {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}},
    },
}
_HIT = {
    "type": "object",
    "required": ["source", "paragraph", "line_start", "line_end", "text", "score"],
    "properties": {
        "source": {"type": "string"},
        "paragraph": {"type": "integer"},
        "line_start": {"type": "integer"},
        "line_end": {"type": "integer"},
        "text": {"type": "string", "description": "the passage, verbatim"},
        "score": {"type": "number", "description": "reciprocal-rank-fusion score"},
        "dense_score": {"type": "number", "nullable": True},
        "lexical_score": {"type": "number", "nullable": True},
        "article_title": {"type": "string", "nullable": True},
        "publisher": {"type": "string", "nullable": True},
        "published": {"type": "string", "nullable": True},
    },
}
_ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {
        "error": {"type": "string", "description": "what went wrong and what to send instead"},
        "status": {"type": "integer"},
    },
}
SCHEMAS = {"Answer": _ANSWER, "Citation": _CITATION, "Hit": _HIT, "Error": _ERROR}

schemas = SchemaGenerator(
    {
        "openapi": "3.0.3",
        "info": {
            "title": "esqa",
            "version": __version__,
            "description": "Answers about a folder of news articles; every sentence is a "
            "verbatim quote with its file, paragraph and lines. Read-only.",
        },
        "components": {"schemas": SCHEMAS},
    }
)


def routes(site: Site) -> list[Route]:
    async def ask(request: Request) -> Response:
        """Answer a question.
        ---
        summary: Answer a question with verbatim quotes and their citations
        parameters:
          - {name: q, in: query, required: true, schema: {type: string, maxLength: 2000}}
          - {name: k, in: query, schema: {type: integer, minimum: 1, maximum: 50, default: 24},
             description: passages the composer reads}
        responses:
          "200":
            description: the answer (as `esqa ask --json` prints it)
            content: {application/json: {schema: {$ref: "#/components/schemas/Answer"}}}
          "400":
            description: no question, an empty or too long one, or a bad k
            content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}
        """
        question = _required(request)
        k = params.integer(request.query_params, "k", settings.ANSWER_PASSAGES, 1, 50)
        answer = await site.run(site.qa.ask, question, k)
        return JSONResponse(answer.to_dict())

    async def search(request: Request) -> Response:
        """Search the passages.
        ---
        summary: The passages that best match a query, best first
        parameters:
          - {name: q, in: query, required: true, schema: {type: string, maxLength: 2000}}
          - {name: k, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 5}}
        responses:
          "200":
            description: the passages (as `esqa search --json` prints them)
            content:
              application/json:
                schema: {type: array, items: {$ref: "#/components/schemas/Hit"}}
          "400":
            description: no query, an empty or too long one, or a bad k
            content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}
        """
        query = _required(request, "query")
        k = params.integer(request.query_params, "k", settings.SEARCH_HITS, 1, 100)
        hits = await site.run(site.qa.search, query, k)
        return JSONResponse([h.to_dict() for h in hits])

    async def info(request: Request) -> Response:
        """Describe the index.
        ---
        summary: Index location, counts, model, and whether the corpus changed since the build
        responses:
          "200":
            description: as `esqa info --json` prints it
            content: {application/json: {schema: {type: object}}}
        """
        return JSONResponse((await site.run(site.qa.info)).to_dict())

    async def openapi(request: Request) -> Response:
        """The OpenAPI description of this API."""
        return JSONResponse(schemas.get_schema(routes=list(request.app.routes)))

    return [
        Route("/api/ask", ask, methods=["GET"]),
        Route("/api/search", search, methods=["GET"]),
        Route("/api/info", info, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"], include_in_schema=False),
    ]


def _required(request: Request, what: str = "question") -> str:
    value: Any = params.question(request.query_params, what=what)
    if value is None:
        raise params.bad_request(f"give the {what} as ?q=...")
    return str(value)
