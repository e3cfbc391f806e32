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
            for name, value in sorted(fields)
            if name not in _NOT_CONTENT
        ]
    )
    digest = hashlib.sha256(content.encode()).hexdigest()
    return _uuid5(f"{merchant_id}:{operation}:{digest}")


_NAMESPACE_BYTES = _IDEMPOTENCY_NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, name))`` without building a UUID: the SHA-1's
    first 32 hex digits, with the version digit (5) and the RFC 4122 variant bits set."""
    text = hashlib.sha1(_NAMESPACE_BYTES + name.encode()).hexdigest()
    variant = _VARIANT[text[16]]
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{variant}{text[17:20]}-{text[20:32]}"


# The variant's hex digit: its two top bits 10, the other two kept.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
