"""Typed values out of the gateway's text fields (shared by answers and callbacks).

Every helper takes whatever a decoded field holds (usually ``str``; a nested field is a mapping)
and returns ``None`` when the field is absent, empty or not of the expected shape, so callers
decide what "missing" means for them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

__all__ = ["GATEWAY_TIMEZONE", "to_datetime", "to_decimal", "to_int"]

#: Naive gateway timestamps are taken as Kazakhstan time (UTC+5, inferred: the docs give none).
GATEWAY_TIMEZONE = timezone(timedelta(hours=5))

# ASCII digits only (str.isdigit accepts "²" and other digits int() refuses), and short enough
# for int() (Python refuses very long digit strings).
_INT = re.compile(r"-?[0-9]{1,30}").fullmatch


def to_decimal(value: object) -> Decimal | None:
    """``"10.50"`` -> ``Decimal("10.50")``; non-numbers, NaN and infinities -> ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def to_int(value: object) -> int | None:
    """``"42"`` -> ``42``; anything but an optional minus and ASCII digits -> ``None``."""
    return int(value) if isinstance(value, str) and _INT(value) else None


def to_datetime(value: object) -> datetime | None:
    """An aware datetime from ISO 8601 / ``YYYY-MM-DD HH:MM:SS``; naive means UTC+5."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=GATEWAY_TIMEZONE)
