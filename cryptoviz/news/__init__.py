"""News: feed parsing, normalisation, symbol tagging and sentiment (pure code, no I/O)."""
