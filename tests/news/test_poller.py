"""Poller pieces: bounded recent ids, names safe for logs, the CryptoPanic request, health."""

from __future__ import annotations

from cryptoviz.news.poller import FeedHealth, RecentIds, cryptopanic_spec, display_name


def test_recent_ids_forget_the_oldest_first() -> None:
    recent = RecentIds(3)
    recent.add(["a", "b", "c"])
    recent.add(["d"])
    assert len(recent) == 3
    assert "a" not in recent
    assert all(k in recent for k in "bcd")
    recent.discard(["c", "zz"])
    assert "c" not in recent
    assert len(recent) == 2


def test_display_names_hide_credentials_and_query_values() -> None:
    assert display_name("https://me:pw@feeds.example.com:8443/rss?token=abc&x=") == (
        "https://feeds.example.com:8443/rss?token=…&x=…"
    )
    assert display_name("https://cointelegraph.com/rss") == "https://cointelegraph.com/rss"
    assert display_name("/srv/feeds/a.xml") == "/srv/feeds/a.xml"


def test_cryptopanic_request_adds_the_token_and_keeps_other_parameters() -> None:
    spec = cryptopanic_spec("https://cryptopanic.com/api/v1/posts/?kind=news&auth_token=old", "s3cret")
    assert spec.target == "https://cryptopanic.com/api/v1/posts/?kind=news&auth_token=s3cret&public=true"
    assert (spec.name, spec.kind, spec.secret) == ("cryptopanic", "cryptopanic", "s3cret")


def test_health_states() -> None:
    health = FeedHealth("f")
    assert health.as_dict()["state"] == "pending"
    health.polls, health.last_success = 1, 1_765_000_000_000
    assert health.as_dict()["state"] == "ok"
    assert health.as_dict()["last_success"] == "2025-12-06T05:46:40Z"
    health.consecutive_failures = 2
    assert health.as_dict()["state"] == "failing"
    assert set(health.as_dict()) == {
        "feed", "state", "polls", "not_modified", "failures", "consecutive_failures", "last_success",
        "last_error", "last_error_at", "items_seen", "items_new", "items_skipped",
    }  # fmt: skip
