"""Ingestion: files -> text -> articles and paragraphs -> chunks.

Everything that decides what a chunk holds lives here, so the index's
ingestion fingerprint is the code of this package (`esqa.ingest.fingerprint`).
"""
