"""VADER compound scores, as the original product had them."""

from __future__ import annotations

from cryptoviz.news.sentiment import SentimentScorer


def test_signs_range_and_empty_text() -> None:
    scorer = SentimentScorer()
    good = scorer.score("Bitcoin surges to a record high as investors cheer the great news")
    bad = scorer.score("Exchange hacked, investors panic as prices crash and funds are lost")
    assert 0.5 < good <= 1.0
    assert -1.0 <= bad < -0.5
    assert scorer.score("") == 0.0
    assert scorer.score("   ") == 0.0
    assert -1.0 <= scorer.score("great " * 10_000) <= 1.0


def test_known_vader_value() -> None:
    # VADER's own README example, so the wrapper adds nothing to the score.
    assert SentimentScorer().score("VADER is smart, handsome, and funny.") == 0.8316
