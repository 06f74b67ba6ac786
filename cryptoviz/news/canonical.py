"""Canonical article URLs and the item ids derived from them.

The same article reaches us through several feeds and with campaign parameters that
change from one feed to the next (`?utm_source=rss_feed`). Stripping those, lowering the
scheme and host and sorting the rest of the query gives one URL per article, and the id
is a hash of it, so an article is stored once whoever carried it.
"""

from __future__ import annotations

import hashlib
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_URL_LENGTH: Final = 2048
TRACKING_PARAMS: Final = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "oly_anon_id",
        "oly_enc_id", "vero_id", "vero_conv", "wickedid", "_ga", "_gl", "spm", "cmpid",
    }
)  # fmt: skip
"""Query parameters that identify a campaign or a click, never the article."""
TRACKING_PREFIXES: Final = ("utm_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(raw: str) -> str | None:
    """The canonical form of an http(s) URL, or None when it is not one.

    Only http and https are accepted, so a feed cannot hand the dashboard a
    `javascript:` link; user info and default ports are dropped, fragments too.
    """
    text = raw.strip()
    if not text or len(text) > MAX_URL_LENGTH or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def news_id(canonical: str) -> str:
    """A stable id for an article: the first 128 bits of the SHA-256 of its canonical URL, in hex."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def site_of(canonical: str) -> str:
    """The publisher's host name without a leading `www.`, used as the item's source."""
    host = urlsplit(canonical).hostname or ""
    return host.removeprefix("www.")
