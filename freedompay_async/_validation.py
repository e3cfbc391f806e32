"""Input checks shared by the typed facades; each raises ValidationError naming the field."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from .errors import ValidationError

__all__ = ["amount", "card_number", "order_id", "required_text", "url", "user_id"]

_MIN_AMOUNT = Decimal("0.01")
_MAX_AMOUNT = Decimal("99999999")
_CENTS = Decimal("0.01")


def amount(field: str, value: Decimal | str | int) -> str:
    """A money amount: 0.01 .. 99 999 999 with at most two decimals, as the text to send."""
    if isinstance(value, (bool, float)):
        raise ValidationError(field, "use decimal.Decimal (or str) for money, not float/bool")
    try:
        parsed = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(field, "is not a number") from None
    if not parsed.is_finite() or parsed != parsed.quantize(_CENTS, rounding="ROUND_DOWN"):
        raise ValidationError(field, "must have at most two decimal places")
    if not _MIN_AMOUNT <= parsed <= _MAX_AMOUNT:
        raise ValidationError(field, "must be between 0.01 and 99999999")
    return format(parsed.quantize(_CENTS), "f")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_number(field: str, value: str) -> str:
    """A card number: 13-19 digits (spaces allowed) passing the Luhn check."""
    digits = value.replace(" ", "") if isinstance(value, str) else ""
    if not (digits.isdigit() and 13 <= len(digits) <= 19):
        raise ValidationError(field, "must be 13 to 19 digits")
    if not _luhn_ok(digits):
        raise ValidationError(field, "fails the Luhn check (mistyped card number?)")
    return digits


def order_id(field: str, value: str, *, max_length: int = 50) -> str:
    """The merchant's order id: non-empty, at most ``max_length`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty string")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return value


def required_text(field: str, value: str, *, max_length: int = 1024) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "is required")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return value


_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,50}").fullmatch


def user_id(field: str, value: str) -> str:
    """``pg_user_id``: 1-50 of ``[a-zA-Z0-9_-]`` (shared/api, merchant API)."""
    if not isinstance(value, str) or not _USER_ID(value):
        raise ValidationError(field, "must be 1-50 characters of a-z, A-Z, 0-9, _ or -")
    return value


def url(field: str, value: str, *, max_length: int = 255) -> str:
    """An absolute http(s) URL of at most ``max_length`` characters."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(field, "must be an absolute http(s) URL")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return value
