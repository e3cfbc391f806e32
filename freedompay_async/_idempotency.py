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
    content = hashlib.sha256()
    for name, value in sorted(pair for pair in fields if pair[0] not in _NOT_CONTENT):
        content.update(f"{len(name)}:{name}={len(value)}:{value};".encode())
    return str(
        uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{merchant_id}:{operation}:{content.hexdigest()}")
    )
