"""esqa: answers from news articles, every sentence cited by file, paragraph and lines."""

__version__ = "0.1.0"
