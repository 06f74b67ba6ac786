"""Canonical URLs and ids: one id per article whatever tracking a feed adds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoviz.news.canonical import canonical_url, news_id, site_of

ARTICLE = "https://cointelegraph.com/news/figure-technology-solana-onchain-equity-second-ipo"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ARTICLE + "?utm_source=rss_feed&utm_medium=rss&utm_campaign=rss_partner_inbound", ARTICLE),
        ("HTTPS://CoinDesk.COM/Markets/A?b=2&a=1#comments", "https://coindesk.com/Markets/A?a=1&b=2"),
        ("https://x.io/a?fbclid=1&gclid=2&id=7&UTM_Term=z&mc_eid=4", "https://x.io/a?id=7"),
        ("http://x.io:80/a", "http://x.io/a"),
        ("https://x.io:443/a", "https://x.io/a"),
        ("https://x.io:8443/a", "https://x.io:8443/a"),
        ("https://user:secret@x.io/a", "https://x.io/a"),
        ("https://x.io", "https://x.io/"),
        ("  https://x.io/a?q=a%20b  ", "https://x.io/a?q=a+b"),
        ("https://x.io/a?flag&b=", "https://x.io/a?b=&flag="),
        ("https://[::1]:8080/a", "https://[::1]:8080/a"),
    ],
)
def test_canonical_form(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "ftp://x.io/a",
        "/relative/path",
        "",
        "https://",
        "https://x.io:99999/a",
        "https://x.io/a b",
        "https://x.io/\x00",
        "https://x.io/" + "a" * 3000,
    ],
)
def test_anything_but_an_http_url_is_refused(raw: str) -> None:
    assert canonical_url(raw) is None


def test_tracking_variants_share_an_id_and_other_articles_do_not() -> None:
    variants = [ARTICLE, ARTICLE + "?utm_source=x", ARTICLE.replace("https://", "HTTPS://") + "#top"]
    ids = {news_id(canonical_url(v) or "") for v in variants}
    assert len(ids) == 1
    (only,) = ids
    assert len(only) == 32
    assert int(only, 16) >= 0
    assert news_id(canonical_url(ARTICLE + "-2") or "") != only
    assert news_id(canonical_url(ARTICLE + "?page=2") or "") != only


def test_site_is_the_host_without_www() -> None:
    assert site_of("https://www.coindesk.com/a") == "coindesk.com"
    assert site_of("https://cointelegraph.com/news/x") == "cointelegraph.com"


@given(
    st.builds(
        lambda host, path, params: f"https://{host}/{path}?" + "&".join(f"{k}={v}" for k, v in params),
        st.from_regex(r"[a-z]{1,10}\.(com|io)", fullmatch=True),
        st.from_regex(r"[a-z0-9/-]{0,20}", fullmatch=True),
        st.lists(
            st.tuples(
                st.sampled_from(["utm_source", "id", "fbclid", "page", "ref", "gclid", "q"]),
                st.from_regex(r"[a-z0-9]{0,5}", fullmatch=True),
            ),
            max_size=5,
        ),
    )
)
def test_canonical_is_idempotent_and_free_of_tracking(url: str) -> None:
    once = canonical_url(url)
    assert once is not None
    assert canonical_url(once) == once
    assert "utm_" not in once
    assert "clid=" not in once


@given(st.text(max_size=300))
def test_any_text_gives_an_http_url_or_none(text: str) -> None:
    url = canonical_url(text)
    assert url is None or url.startswith(("http://", "https://"))
