"""Answering: question analysis, values and enumerations, and the composer."""
