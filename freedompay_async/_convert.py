"""Typed values out of the gateway's text fields (shared by answers and callbacks).

Every helper takes whatever a decoded field holds (usually ``str``; a nested field is a mapping)
and returns ``None`` when the field is absent, empty or not of the expected shape, so one odd
field never hides a whole answer and callers decide what "missing" means for them.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "GATEWAY_TIMEZONE",
    "REGION_TIMEZONES",
    "WordEnum",
    "to_bool",
    "to_datetime",
    "to_decimal",
    "to_int",
    "to_text",
]

#: Naive gateway timestamps are the gateway's local time (inferred: the docs give no zone):
#: Kazakhstan and Uzbekistan UTC+5, Kyrgyzstan UTC+6. Kazakhstan's where no region is known.
REGION_TIMEZONES = {
    "kz": timezone(timedelta(hours=5)),
    "uz": timezone(timedelta(hours=5)),
    "kg": timezone(timedelta(hours=6)),
}
GATEWAY_TIMEZONE = REGION_TIMEZONES["kz"]

# ASCII digits only (str.isdigit accepts "²" and other digits int() refuses), and short enough
# for int() (Python refuses very long digit strings).
_INT = re.compile(r"-?[0-9]{1,30}").fullmatch


def to_text(value: object) -> str | None:
    """A non-empty text field, else None."""
    return value if isinstance(value, str) and value else None


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


def to_bool(value: object) -> bool | None:
    """The gateway's 0/1 flags."""
    return {"1": True, "0": False}.get(value) if isinstance(value, str) else None


def to_datetime(value: object, zone: tzinfo = GATEWAY_TIMEZONE) -> datetime | None:
    """An aware datetime from ISO 8601 / ``YYYY-MM-DD HH:MM:SS``; naive ones are in ``zone``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo:
        return parsed
    # (replace(tzinfo=zone) parses its keywords: three times the cost.)
    return datetime.combine(parsed.date(), parsed.time(), zone)


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
        aliases = _aliases_of(cls)
        return aliases.get(value if isinstance(value, str) else None, aliases[None])

    @classmethod
    def of(cls, word: str) -> Any:
        """``cls(word)`` by one lookup (an alias or unknown word in ``cls()`` goes through
        an exception inside ``enum``)."""
        words = _WORDS.get(cls)
        if words is None:
            words = _WORDS[cls] = {**_aliases_of(cls), **cls._value2member_map_}
            del words[None]
        member = words.get(word)
        return cls(word) if member is None else member


def _aliases_of(cls: type[WordEnum]) -> dict[str | None, Any]:
    aliases = _ALIASES.get(cls)
    if aliases is None:  # built once per enum, not per unexpected word
        aliases = _ALIASES[cls] = {None: cls.__members__["UNKNOWN"]}
        aliases.update(cls._aliases())
    return aliases


_ALIASES: dict[type[WordEnum], dict[str | None, Any]] = {}
#: Every member's value and alias -> the member, per enum.
_WORDS: dict[type[WordEnum], dict[str | None, Any]] = {}
