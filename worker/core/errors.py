"""The failure taxonomy. Adapters classify once; everything above branches on the class."""

from __future__ import annotations


class RetryableError(Exception):
    """Worth trying again later: timeouts, connection errors, 408, 429, 5xx, SMTP 4xx."""


class PermanentError(Exception):
    """Trying again cannot help: other 4xx, SMTP 5xx, a refused address."""


class UnpublishableError(PermanentError):
    """A record the broker will never take (over its size limit): publishing the same
    bytes again cannot succeed, whatever the wait."""
