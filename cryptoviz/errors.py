"""One error root for the whole product.

`retriable` tells callers (reconnect loops, batch writers) whether trying the same
operation again can succeed, as aiokafka's errors do.
"""

from __future__ import annotations


class CryptovizError(Exception):
    """Root of every error the product raises on purpose."""

    retriable: bool = False


class ConfigError(CryptovizError):
    """The configuration is invalid: names the key, the value and what was expected."""


class PluginError(CryptovizError):
    """A plugin could not be found, loaded or configured."""


class StorageError(CryptovizError):
    """A storage operation failed."""


class StorageUnavailable(StorageError):
    """The storage cannot be reached right now; the write will be retried."""

    retriable = True


class BusClosed(CryptovizError):
    """The bus was stopped while a producer or consumer was using it."""
