"""Reproducible benchmarks: retrieval quality, answer quality, speed. Run with `make bench`."""
