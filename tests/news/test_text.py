"""HTML to plain text, and bounded lengths."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cryptoviz.news.text import clip, strip_html


def test_markup_scripts_and_entities() -> None:
    html = (
        '<p style="float:right"><img src="x.jpg" alt="ignored"></p><p>Figure is planning a '
        "<b>second</b>&nbsp;IPO &amp; more.</p><script>alert('x')</script><style>p{}</style>"
    )
    assert strip_html(html) == "Figure is planning a second IPO & more."  # &nbsp; is a space too
    assert "alert" not in strip_html(html)


def test_blocks_become_spaces_and_whitespace_collapses() -> None:
    assert strip_html("<p>one</p><p>two</p>\n\n  three<br>four") == "one two three four"
    assert strip_html("  plain   text \n") == "plain text"
    assert strip_html('NEO ($NEO) price is up <span class="color-green">20.99%</span>') == (
        "NEO ($NEO) price is up 20.99%"
    )


def test_unclosed_and_broken_markup_still_yields_text() -> None:
    assert strip_html("<p>cut here <b>bold") == "cut here bold"
    assert strip_html("a < b and c > d") == "a < b and c > d"


def test_a_huge_field_is_collected_only_up_to_the_limit() -> None:
    text = strip_html("<p>" + "word " * 200_000 + "</p>", limit=1000)
    assert 990 <= len(text) <= 1000


def test_clip_cuts_at_a_word_with_an_ellipsis() -> None:
    assert clip("short", 10) == "short"
    cut = clip("the quick brown fox jumps over the lazy dog", 20)
    assert len(cut) <= 20
    assert cut == "the quick brown fox…"
    long_word = clip("x" * 50, 10)
    assert long_word == "x" * 9 + "…"


@given(st.text(max_size=2000), st.integers(min_value=2, max_value=300))
def test_any_text_is_read_and_bounded(text: str, limit: int) -> None:
    plain = strip_html(text, limit)
    assert len(plain) <= limit
    assert len(clip(plain, limit)) <= limit
