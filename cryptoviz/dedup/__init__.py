"""Deduplication backends behind the `Dedup` protocol."""
