"""A Milvus server as `esqa.stores.milvus` uses it: the connection, its failures as one
line, the collections' schema and tags, and the alias that names an index's collection.

Each collection esqa makes is tagged (collection properties) with the model of its
vectors, the alias it was made for and the index that owns it (its path), so that a
build never takes over, switches or drops what another index, or another program,
keeps on the same server.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from esqa import settings
from esqa.errors import StoreUnavailableError
from esqa.stores.faiss_dense import HNSW_THRESHOLD, HnswParams
from esqa.stores.milvus_expr import MilvusSpec

FAMILY = "__esqa_"  # each collection of an alias is ALIAS__esqa_<token>
# A new collection of more than HNSW_THRESHOLD rows gets an HNSW graph of the
# embedded store's parameters (see esqa.stores.faiss_dense for how they were chosen).
HNSW = {"M": HnswParams().m, "efConstruction": HnswParams().ef_construction}
K1, B = 1.5, 0.75  # the embedded lexical store's BM25 parameters
CONNECT_SECONDS = 10.0
# pymilvus pings every 10 s even on an idle channel; a server that enforces
# gRPC's default ping policy (milvus-lite does, under load) answers such pings
# with GOAWAY "too_many_pings" and the next call fails. esqa's calls are short,
# and an idle channel that died reconnects on its next call, so pings are
# sent only while a call is running, and at most once a minute.
GRPC_OPTIONS = {"grpc.keepalive_permit_without_calls": False, "grpc.keepalive_time_ms": 60_000}
SERVER_HINT = "start the server (or fix --store), then run the command again"
REBUILD_HINT = "rebuild the index: esqa index build --full"


def pymilvus() -> Any:
    """The pymilvus module, quiet: esqa reports every failure itself, in one line."""
    # gRPC's core logs to stderr on its own (milvus-lite's server refuses
    # pymilvus's keepalive pings, and gRPC says so mid-build). A user's own
    # GRPC_VERBOSITY is kept.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        import pymilvus as module  # deferred: 1.6 s of imports that only a Milvus index pays
    except ImportError:
        raise StoreUnavailableError(
            "a Milvus store needs pymilvus, which is not installed",
            hint="pip install 'esqa[milvus]' (or pymilvus)",
        ) from None
    # pymilvus logs every failed call with its traceback (its own handlers, set at import).
    for name in ("pymilvus", "pymilvus.decorators", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    return module


def new_name(spec: MilvusSpec) -> str:
    return f"{spec.collection}{FAMILY}{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Tags:
    """What a collection of esqa's says of itself."""

    model: str
    alias: str
    owner: str  # the index that made it


class Server:
    """One Milvus server, reached with the credentials of the `milvus_token` setting."""

    def __init__(self, spec: MilvusSpec) -> None:
        self.spec = spec
        module = pymilvus()
        token = settings.current().milvus_token or ""
        try:
            self.client = module.MilvusClient(
                uri=spec.uri, token=token, timeout=CONNECT_SECONDS, grpc_options=GRPC_OPTIONS
            )
        except module.MilvusException as exc:
            raise StoreUnavailableError(
                f"cannot reach the Milvus server at {spec.uri} ({exc.message})", hint=SERVER_HINT
            ) from None

    def failed(self, what: str, exc: Exception) -> StoreUnavailableError:
        message = getattr(exc, "message", None) or str(exc)
        return StoreUnavailableError(
            f"the Milvus server at {self.spec.uri} failed to {what} ({message})", hint=SERVER_HINT
        )

    def call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """`client.method(...)`, its failure one line naming the server."""
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except pymilvus().MilvusException as exc:
            raise self.failed(what, exc) from None

    def describe(self, name: str) -> dict[str, Any] | None:
        """The collection (or alias) `name` as the server describes it; None when absent."""
        if not self.call(f"look up {name}", "has_collection", name):
            return None
        return dict(self.call(f"describe {name}", "describe_collection", name))

    def check_alias(self, tags: Tags, dimension: int) -> None:
        """Refuse an alias that another index (of any model), or something not esqa's, holds.

        The same index may take it to another model (a rebuild at another precision).
        """
        name, where = tags.alias, f"the Milvus server at {self.spec.uri}"
        described = self.describe(name)
        if described is None:
            return
        properties = described.get("properties") or {}
        if described.get("collection_name") == name or "esqa.model" not in properties:
            raise StoreUnavailableError(
                f"{name} on {where} is a collection esqa did not create",
                hint="name another collection in --store",
            )
        if properties.get("esqa.owner") != tags.owner:
            # Switching the alias would take another index's collection over.
            raise StoreUnavailableError(
                f"collection {name} on {where} serves the index "
                f"{properties.get('esqa.owner') or '(unnamed)'} ({properties['esqa.model']}, "
                f"{dimension_of(described)} dimensions)",
                hint="name another collection in --store, or drop that one first",
            )

    def check_collection(self, name: str, model: str, dimension: int) -> None:
        """Raise unless `name` holds `model`'s vectors of `dimension`; load it for searching."""
        described = self.describe(name)
        where = f"collection {name} on the Milvus server at {self.spec.uri}"
        if described is None:
            raise StoreUnavailableError(f"{where} is gone", hint=REBUILD_HINT)
        held = (described.get("properties") or {}).get("esqa.model")
        if held != model:
            raise ValueError(f"{where} holds {held} vectors, not {model}")
        if dimension_of(described) != dimension:
            raise ValueError(f"{where} holds {dimension_of(described)}-d vectors")
        loaded = pymilvus().client.types.LoadState.Loaded
        if self.call("load", "get_load_state", name).get("state") != loaded:
            self.call(f"load {name}", "load_collection", name)

    def create_collection(self, name: str, dimension: int, tags: Tags, rows: int) -> None:
        """A new collection for esqa's rows (see `esqa.stores.milvus`), loaded."""
        module = pymilvus()
        data_type = module.DataType
        for analyzer in ({"tokenizer": "whitespace"}, {"tokenizer": "standard"}):
            # Milvus has a whitespace tokenizer; milvus-lite only a standard
            # one (\w+, lower case), which splits esqa's terms (\w runs, lower
            # case, stemmed) the same way.
            schema = self.call("make a schema", "create_schema", auto_id=True)
            schema.add_field("key", data_type.INT64, is_primary=True)
            for field in ("born", "chunk"):
                schema.add_field(field, data_type.INT64)
            schema.add_field("source", data_type.VARCHAR, max_length=65_535)
            for field in ("paragraph", "line_start", "line_end"):
                schema.add_field(field, data_type.INT64)
            schema.add_field("title", data_type.VARCHAR, max_length=65_535)
            schema.add_field("published", data_type.VARCHAR, max_length=256)
            schema.add_field("dense", data_type.FLOAT_VECTOR, dim=dimension)
            schema.add_field("sparse", data_type.SPARSE_FLOAT_VECTOR)
            schema.add_field(
                "terms",
                data_type.VARCHAR,
                max_length=65_535,
                enable_analyzer=True,
                analyzer_params=analyzer,
            )
            schema.add_function(
                module.Function(
                    name="bm25",
                    function_type=module.FunctionType.BM25,
                    input_field_names=["terms"],
                    output_field_names=["sparse"],
                )
            )
            try:
                self.client.create_collection(
                    name,
                    schema=schema,
                    index_params=self._index_params(rows),
                    properties={
                        "esqa.model": tags.model,
                        "esqa.alias": tags.alias,
                        "esqa.owner": tags.owner,
                    },
                    consistency_level="Strong",  # a question right after a build sees all of it
                )
                break
            except module.MilvusException as exc:
                if analyzer["tokenizer"] == "standard" or "tokenizer" not in exc.message:
                    raise self.failed(f"create collection {name}", exc) from None
        self.call(f"load {name}", "load_collection", name)

    def _index_params(self, rows: int) -> Any:
        params = self.call("prepare an index", "prepare_index_params")
        if rows > HNSW_THRESHOLD:
            params.add_index("dense", index_type="HNSW", metric_type="IP", params=HNSW)
        else:
            params.add_index("dense", index_type="FLAT", metric_type="IP")
        params.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": K1, "bm25_b": B},
        )
        return params

    def point_alias(self, alias: str, collection: str) -> str | None:
        """Point `alias` at `collection`; returns the collection it named before, if any."""
        try:
            before: str | None = str(self.client.describe_alias(alias)["collection_name"])
        except pymilvus().MilvusException:
            before = None
        if before is None:
            self.call(f"create alias {alias}", "create_alias", collection, alias)
        elif before != collection:
            self.call(f"switch alias {alias}", "alter_alias", collection, alias)
        return before

    def drop_others(self, tags: Tags, keep: Iterable[str | None]) -> None:
        """Drop the collections of this alias and index, but those in `keep`."""
        kept = set(keep)
        for name in self.call("list collections", "list_collections"):
            if not name.startswith(tags.alias + FAMILY) or name in kept:
                continue
            properties = (self.describe(name) or {}).get("properties") or {}
            if (properties.get("esqa.alias"), properties.get("esqa.owner")) == (
                tags.alias,
                tags.owner,
            ):
                self.call(f"drop {name}", "drop_collection", name)


def dimension_of(described: Mapping[str, Any]) -> int | None:
    for field in described.get("fields", ()):
        if field.get("name") == "dense":
            return int((field.get("params") or {}).get("dim", 0))
    return None
