"""The client's default ``pg_idempotency_key`` (light to import: the batch journal needs it)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

__all__ = ["default_idempotency_key"]

# Fixed namespace for deterministic idempotency keys (uuid5 of merchant, operation, content).
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f0c1f0e-7c1b-5d59-9a43-4f1b2f5f9c11")
# Added per attempt or per client, so no part of what the operation is.
_NOT_CONTENT = frozenset({"pg_salt", "pg_sig", "pg_merchant_id", "pg_idempotency_key"})


def default_idempotency_key(
    merchant_id: str, operation: str, fields: Iterable[tuple[str, str]]
) -> str:
    """The default ``pg_idempotency_key`` of ``operation`` (an endpoint name) with ``fields``.

    ``fields`` are the (form name, value) pairs signed for the request; salt, signature and
    merchant id are left out. The key is the same for every attempt, process and restart of an
    identical request, and a different one as soon as any field differs (seed 001: a key must
    never be reused for a different operation; a new request after "need data" is a new one).
    """
    content = "".join(
        [
            f"{len(name)}:{name}={len(value)}:{value};"
            for name, value in sorted(pair for pair in fields if pair[0] not in _NOT_CONTENT)
        ]
    )
    digest = hashlib.sha256(content.encode()).hexdigest()
    return _uuid5(f"{merchant_id}:{operation}:{digest}")


_NAMESPACE_BYTES = _IDEMPOTENCY_NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, name))`` without building a UUID (a quarter
    of the time)."""
    octets = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    octets[6] = octets[6] & 0x0F | 0x50  # version 5
    octets[8] = octets[8] & 0x3F | 0x80  # RFC 4122 variant
    text = octets.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
