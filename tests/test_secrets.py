"""Secrets masked before they are printed or logged."""

from __future__ import annotations

from cryptoviz.secrets import redacted, redacted_config


def test_a_url_keeps_everything_but_its_password() -> None:
    assert redacted("redis://app:s3cret@cache.internal:6380/2") == "redis://app:***@cache.internal:6380/2"
    assert (
        redacted("postgresql://u:p%40ss@db:5432/x?sslmode=require")
        == "postgresql://u:***@db:5432/x?sslmode=require"
    )
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redacted("postgresql://u@db/x") == "postgresql://u@db/x"


def test_a_configuration_masks_secret_keys_and_url_passwords_only() -> None:
    data = {
        "storage": {"postgres_dsn": "postgresql://app:pw@db/cv", "batch_size": 2000},
        "plugins": {"news": {"cryptopanic_token": "abc123", "feeds": ["https://x:y@feed.example/rss"]}},
        "other": {"api_key": "", "password": "hunter2", "name": "kept"},
    }
    assert redacted_config(data) == {
        "storage": {"postgres_dsn": "postgresql://app:***@db/cv", "batch_size": 2000},
        "plugins": {"news": {"cryptopanic_token": "***", "feeds": ["https://x:***@feed.example/rss"]}},
        "other": {"api_key": "", "password": "***", "name": "kept"},
    }
