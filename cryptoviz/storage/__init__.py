"""Storage backends behind the `Storage` protocol."""
