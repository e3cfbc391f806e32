"""Input checks shared by the typed facades; each raises ValidationError naming the field."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from .errors import ValidationError

__all__ = [
    "amount",
    "card_number",
    "currency",
    "email",
    "flag",
    "free_params",
    "int_range",
    "ip_address",
    "merchant_fields",
    "one_of",
    "order_id",
    "phone",
    "positive_int",
    "required_text",
    "url",
    "user_id",
]

_MIN_AMOUNT = Decimal("0.01")
_MAX_AMOUNT = Decimal("99999999")
_CENTS = Decimal("0.01")


# Plain decimal notation: "1000", "10.5", "0.01" - not "1e3", "1_000", " 10", "+5" or "NaN",
# which Decimal() would read but a person typing an amount did not mean.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?").fullmatch
_COMMA_DECIMAL = re.compile(r"-?[0-9]+,[0-9]+").fullmatch


def amount(
    field: str,
    value: Decimal | str | int,
    *,
    minimum: Decimal = _MIN_AMOUNT,
    maximum: Decimal = _MAX_AMOUNT,
) -> str:
    """A money amount: ``minimum`` (0.01) .. ``maximum`` (99 999 999), at most two decimals.

    Text must be plain decimal notation (digits, an optional ``.`` and decimals).
    """
    if isinstance(value, (bool, float)):
        raise ValidationError(field, "use decimal.Decimal (or str) for money, not float/bool")
    if isinstance(value, str) and not _PLAIN_DECIMAL(value):
        if _COMMA_DECIMAL(value):
            raise ValidationError(
                field,
                f"is not a number: use '.' as the decimal separator ({value.replace(',', '.')})",
            )
        raise ValidationError(field, "is not a plain decimal number (digits and an optional '.')")
    try:
        parsed = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(field, "is not a number") from None
    if not parsed.is_finite() or parsed != parsed.quantize(_CENTS, rounding="ROUND_DOWN"):
        raise ValidationError(field, "must have at most two decimal places")
    if not minimum <= parsed <= maximum:
        raise ValidationError(field, f"must be between {minimum} and {maximum}")
    return format(parsed.quantize(_CENTS), "f")


# Luhn: every second digit from the right is doubled, the digits of the product summed.
_LUHN_PLAIN = {str(digit): digit for digit in range(10)}
_LUHN_DOUBLED = {str(digit): 2 * digit - 9 * (digit > 4) for digit in range(10)}


def _luhn_ok(digits: str) -> bool:
    plain = sum(map(_LUHN_PLAIN.__getitem__, digits[-1::-2]))
    return (plain + sum(map(_LUHN_DOUBLED.__getitem__, digits[-2::-2]))) % 10 == 0


def card_number(field: str, value: str, *, max_digits: int = 19) -> str:
    """A card number: 13 to ``max_digits`` ASCII digits (spaces allowed) passing the Luhn check.

    The V1 payout docs allow 20 digits for ``pg_payment_to``; card forms stop at 19.
    """
    digits = value.replace(" ", "") if isinstance(value, str) else ""
    if not (digits.isascii() and digits.isdigit() and 13 <= len(digits) <= max_digits):
        raise ValidationError(field, f"must be 13 to {max_digits} digits")
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


def one_of(field: str, value: str, choices: Collection[str]) -> str:
    """One of the documented values of an enumerated field."""
    if value not in choices:
        raise ValidationError(field, f"must be one of {', '.join(sorted(choices))}")
    return value


def int_range(field: str, value: int, low: int, high: int) -> str:
    """An integer within the documented range, as the text to send."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, f"must be an integer from {low} to {high}")
    return str(value)


def flag(value: bool) -> str:
    """The gateway's 0/1 flags."""
    return "1" if value else "0"


_PHONE = re.compile(r"[0-9]{10,15}").fullmatch


def phone(field: str, value: str) -> str:
    """A phone number with country code, digits only (``77017777777``); a leading + is dropped."""
    digits = value.removeprefix("+") if isinstance(value, str) else ""
    if not _PHONE(digits):
        raise ValidationError(field, "must be 10-15 digits with the country code")
    return digits


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+").fullmatch


def email(field: str, value: str) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _EMAIL(value):
        raise ValidationError(field, "is not an email address")
    return value


def positive_int(field: str, value: int) -> str:
    """A gateway id (``pg_payment_id``, ``pg_card_id``): a positive ``int``, as the text to send."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(field, "must be a positive integer")
    return int.__repr__(value)


_CURRENCY = re.compile(r"[A-Z]{3}").fullmatch


def currency(field: str, value: str) -> str:
    """An ISO 4217 letter code (``KZT``, ``UZS``, ``KGS``, ``USD``...)."""
    if not isinstance(value, str) or not _CURRENCY(value):
        raise ValidationError(field, "must be a 3-letter ISO 4217 code such as KZT")
    return value


def ip_address(field: str, value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValidationError(field, "is not an IP address") from None


_MERCHANT_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}").fullmatch


def merchant_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The merchant's own fields: the gateway echoes them to callbacks, so no ``pg_`` names."""
    for name, value in fields.items():
        if not isinstance(name, str) or not _MERCHANT_FIELD(name) or name.startswith("pg_"):
            raise ValidationError(
                str(name), "merchant fields need a name of letters, digits, _ not starting pg_"
            )
        if not isinstance(value, str):
            raise ValidationError(name, "merchant field values must be str")
    return dict(fields)


def free_params(values: Sequence[str]) -> dict[str, str]:
    """``pg_param1..3``: the merchant's free parameters, in order (the table checks each)."""
    if isinstance(values, str) or len(values) > 3:
        raise ValidationError("pg_param", "give at most three free parameters (pg_param1..3)")
    return {f"pg_param{number}": value for number, value in enumerate(values, start=1)}
