"""The client's default ``pg_idempotency_key`` (light to import: the batch journal needs it)."""

from __future__ import annotations

import uuid

__all__ = ["default_idempotency_key"]

# Fixed namespace for deterministic idempotency keys (uuid5 of merchant, operation, order id).
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f0c1f0e-7c1b-5d59-9a43-4f1b2f5f9c11")


def default_idempotency_key(merchant_id: str, operation: str, order_id: str) -> str:
    """The client's default ``pg_idempotency_key`` for ``operation`` (an endpoint name) on
    ``order_id``: the same for every attempt, every process and every restart."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{merchant_id}:{operation}:{order_id}"))
