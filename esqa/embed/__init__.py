"""Embedding: the `Embedder` protocol, the ONNX and sentence-transformers backends,
and the choice between them."""
