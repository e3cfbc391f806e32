"""How many times, and how patiently, a request that may safely be repeated is sent again."""

from __future__ import annotations

import attrs

__all__ = ["RetryPolicy"]


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive")


@attrs.frozen(slots=True)
class RetryPolicy:
    """Bounds for re-sending requests that certainly did not reach the gateway (and, for reads
    and idempotency-keyed calls, requests whose outcome is unknown).

    Waits are drawn at random up to ``initial_wait * 2**n`` ("full jitter"), capped at
    ``max_wait``;
    retrying stops after ``attempts`` attempts or once ``deadline`` seconds have passed since the
    first one. ``RetryPolicy(attempts=1)`` disables retries.
    """

    attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    initial_wait: float = attrs.field(default=0.25, validator=_positive)
    max_wait: float = attrs.field(default=5.0, validator=_positive)
    deadline: float = attrs.field(default=30.0, validator=_positive)
