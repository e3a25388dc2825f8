"""Search backends behind one small interface (see `esqa.stores.base`)."""

from esqa.stores.base import DenseStore, LexicalStore, ScoredId

__all__ = ["DenseStore", "LexicalStore", "ScoredId"]
