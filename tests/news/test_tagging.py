"""Symbols from the keyword map: whole words, any case, codes too."""

from __future__ import annotations

from cryptoviz.news.tagging import MAX_SYMBOLS_PER_ITEM, KeywordTagger

MAP = {
    "BTCUSDT": ["bitcoin", "btc"],
    "ETHUSDT": ["ethereum", "eth", "ether"],
    "SOLUSDT": ["solana"],
    "BNBUSDT": ["binance coin", "bnb"],
}


def test_whole_words_in_any_case() -> None:
    tagger = KeywordTagger(MAP)
    assert tagger.tag(["Bitcoin's rally lifts $BTC and ETH"]) == ["BTCUSDT", "ETHUSDT"]
    assert tagger.tag(["BITCOIN"]) == ["BTCUSDT"]
    assert tagger.tag(["bitcoiner meetup", "whethereum", "Solanas"]) == []
    assert tagger.tag(["(ether)", "the Binance Coin burn"]) == ["BNBUSDT", "ETHUSDT"]


def test_several_texts_and_currency_codes() -> None:
    tagger = KeywordTagger(MAP)
    assert tagger.tag(["nothing here", "but Solana there"], codes=["BTC", "NEO"]) == ["BTCUSDT", "SOLUSDT"]


def test_one_keyword_can_tag_several_symbols_and_output_is_bounded() -> None:
    tagger = KeywordTagger({"BTCUSDT": ["btc"], "BTCEUR": ["btc"]})
    assert tagger.tag(["BTC"]) == ["BTCEUR", "BTCUSDT"]
    many = KeywordTagger({f"S{i:03d}": ["crypto"] for i in range(50)})
    assert len(many.tag(["crypto"])) == MAX_SYMBOLS_PER_ITEM


def test_empty_map_and_blank_or_special_keywords() -> None:
    assert KeywordTagger({}).tag(["bitcoin"], codes=["BTC"]) == []
    tagger = KeywordTagger({"XUSDT": ["  ", "c++", "a.b"]})
    assert tagger.tag(["I like c++ and a.b"]) == ["XUSDT"]
    assert tagger.tag(["axb"]) == []
