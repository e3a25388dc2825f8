"""The index directory: building, atomic publishing, the manifest, reading and
verifying, comparing it with the corpus, adding articles."""
