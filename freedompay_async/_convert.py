"""Gateway answer text to Python values: the one place typed results read fields through.

Every value arrives as text and may be missing or empty; each converter returns ``None`` then
(or for text it cannot read) instead of raising, so one odd field never hides a whole answer.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "GATEWAY_TIMEZONE",
    "WordEnum",
    "to_bool",
    "to_datetime",
    "to_decimal",
    "to_int",
    "to_text",
]

# Naive gateway timestamps are taken as Kazakhstan time (UTC+5, inferred: the docs give none).
GATEWAY_TIMEZONE = timezone(timedelta(hours=5))


def to_text(value: object) -> str | None:
    """A non-empty text field, else None."""
    return value if isinstance(value, str) and value else None


def to_decimal(value: object) -> Decimal | None:
    try:
        return Decimal(value) if isinstance(value, str) and value else None
    except InvalidOperation:
        return None


def to_int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else None


def to_bool(value: object) -> bool | None:
    """The gateway's 0/1 flags."""
    return {"1": True, "0": False}.get(value) if isinstance(value, str) else None


def to_datetime(value: object) -> datetime | None:
    """ISO-8601 or ``YYYY-MM-DD HH:MM:SS``; aware, in gateway time when no offset is given."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=GATEWAY_TIMEZONE)


class WordEnum(enum.Enum):
    """An enum of gateway words that reads a word it does not know as its ``UNKNOWN`` member.

    A new word from the gateway must not break a result; the word itself stays in the result's
    raw fields. Subclasses may map aliases in :meth:`_aliases`.
    """

    @classmethod
    def _aliases(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def _missing_(cls, value: object) -> Any:
        alias = cls._aliases().get(value) if isinstance(value, str) else None
        return alias if alias is not None else cls.__members__["UNKNOWN"]
