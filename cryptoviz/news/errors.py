"""The one error a feed poll reports: what went wrong with that feed, in words for /ready and logs."""

from __future__ import annotations

from cryptoviz.errors import CryptovizError


class FeedError(CryptovizError):
    """A feed could not be fetched or read: down, slow, too big, or not a feed.

    Always retriable: the publisher may fix it, so the poller backs off and tries again.
    """

    retriable = True
