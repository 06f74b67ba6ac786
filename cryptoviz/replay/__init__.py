"""Replay of recorded exchange traffic: line parsers and file readers."""
