"""Sentiment of a headline and its summary: VADER's compound score in [-1, 1].

VADER ships without type hints; this is the only module that touches it. The analyzer
loads its lexicon when built, so each scorer builds one and keeps it.
"""

from __future__ import annotations

from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

MAX_SCORED_CHARS = 5000
"""VADER's cost grows with the text; the headline and the start of the summary carry the tone."""


class SentimentScorer:
    def __init__(self) -> None:
        self._analyzer: Any = SentimentIntensityAnalyzer()

    def score(self, text: str) -> float:
        """The compound score of `text`, 0.0 for empty text."""
        if not text.strip():
            return 0.0
        scores = self._analyzer.polarity_scores(text[:MAX_SCORED_CHARS])
        compound = float(scores["compound"])
        return max(-1.0, min(1.0, compound))
