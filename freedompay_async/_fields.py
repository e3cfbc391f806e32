"""Request field specifications: what one documented field accepts, and the check built from it.

A :class:`Field` is declared once in the endpoint table (:mod:`._endpoints`) with the bounds the
gateway's documentation gives; its encoder (built once, at import) turns the caller's value into
the text sent or raises :class:`~freedompay_async.errors.ValidationError` naming the field. The
facades hand the table Python values; they do not check bounds themselves.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Literal, TypeAlias

import attrs

from . import _validation as check
from .errors import ValidationError

__all__ = ["Field", "Kind", "encode_fields"]

Kind: TypeAlias = Literal[
    "text",
    "order_id",
    "user_id",
    "amount",
    "currency",
    "url",
    "email",
    "phone",
    "ip",
    "card_number",
    "id",
    "int",
    "flag",
    "choice",
    "datetime",
    "digits",
    "iban",
    "receipt",
]

Encoder: TypeAlias = Callable[[object], object]

# The bounds a kind has where the documentation gives none for the field (characters for text,
# digits for card numbers and digit strings, values for numbers).
_DEFAULT_LENGTH: dict[str, tuple[int, int]] = {
    "text": (1, 1024),
    "order_id": (1, 50),
    "user_id": (1, 50),
    "url": (1, 255),
    "email": (3, 255),
    "phone": (10, 15),
    "currency": (3, 3),
    "card_number": (13, 19),
}
_DEFAULT_VALUES: dict[str, tuple[Decimal, Decimal]] = {
    "amount": (Decimal("0.01"), Decimal("99999999")),
}

_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}").fullmatch
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}").fullmatch


@attrs.frozen(slots=True)
class Field:
    """One request field of one endpoint, as documented.

    ``length`` bounds the characters (digits for ``card_number`` and ``digits``), ``values``
    the number (``amount``, ``int``, ``digits``), ``choices`` the documented values of a
    ``choice``. ``required`` means the endpoint cannot be called without it; fields the docs
    require only in some cases are optional here and the facade enforces the case.
    """

    name: str
    kind: Kind
    required: bool = False
    length: tuple[int, int] | None = attrs.field(kw_only=True)
    values: tuple[Decimal, Decimal] | None = attrs.field(kw_only=True)
    choices: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    encode: Encoder = attrs.field(init=False, repr=False, eq=False)

    @length.default
    def _default_length(self) -> tuple[int, int] | None:
        return _DEFAULT_LENGTH.get(self.kind)

    @values.default
    def _default_values(self) -> tuple[Decimal, Decimal] | None:
        return _DEFAULT_VALUES.get(self.kind)

    @encode.default
    def _encoder(self) -> Encoder:
        return _ENCODERS[self.kind](self)

    def describe(self) -> str:
        """The field's type and bounds in words, for the generated docs table."""
        parts: list[str] = [self.kind]
        if self.choices:
            parts.append(" / ".join(self.choices))
        if self.length is not None:
            low, high = self.length
            parts.append(f"{low} chars" if low == high else f"{low}..{high} chars")
        if self.values is not None:
            parts.append(f"{self.values[0]}..{self.values[1]}")
        return ", ".join(parts)


def _bounds(field: Field) -> tuple[int, int]:
    assert field.length is not None, field.name
    return field.length


def _text(field: Field) -> Encoder:
    name, (low, high) = field.name, _bounds(field)
    if low <= 1:  # required_text already refuses the empty string
        return lambda value: check.required_text(name, value, max_length=high)  # type: ignore[arg-type]

    def encode(value: object) -> str:
        text = check.required_text(name, value, max_length=high)  # type: ignore[arg-type]
        if len(text) < low:
            raise ValidationError(name, f"must be at least {low} characters")
        return text

    return encode


def _order_id(field: Field) -> Encoder:
    name, (_, high) = field.name, _bounds(field)
    return lambda value: check.order_id(name, value, max_length=high)  # type: ignore[arg-type]


def _user_id(field: Field) -> Encoder:
    name = field.name
    return lambda value: check.user_id(name, value)  # type: ignore[arg-type]


def _amount(field: Field) -> Encoder:
    name = field.name
    assert field.values is not None, name
    low, high = field.values
    return lambda value: check.amount(name, value, minimum=low, maximum=high)  # type: ignore[arg-type]


def _simple(function: Callable[[str, str], str]) -> Callable[[Field], Encoder]:
    def build(field: Field) -> Encoder:
        name = field.name
        return lambda value: function(name, value)  # type: ignore[arg-type]

    return build


def _url(field: Field) -> Encoder:
    name, (_, high) = field.name, _bounds(field)
    return lambda value: check.url(name, value, max_length=high)  # type: ignore[arg-type]


def _card_number(field: Field) -> Encoder:
    name, (_, high) = field.name, _bounds(field)
    return lambda value: check.card_number(name, value, max_digits=high)  # type: ignore[arg-type]


def _id(field: Field) -> Encoder:
    name = field.name
    return lambda value: check.positive_int(name, value)  # type: ignore[arg-type]


def _int(field: Field) -> Encoder:
    name = field.name
    assert field.values is not None, name
    low, high = int(field.values[0]), int(field.values[1])
    return lambda value: check.int_range(name, value, low, high)  # type: ignore[arg-type]


def _flag(field: Field) -> Encoder:
    name = field.name

    def encode(value: object) -> str:
        if not isinstance(value, bool):
            raise ValidationError(name, "must be True or False")
        return "1" if value else "0"

    return encode


def _choice(field: Field) -> Encoder:
    name, choices = field.name, frozenset(field.choices)

    def encode(value: object) -> str:
        word = value.value if isinstance(value, enum.Enum) else value
        if not isinstance(word, str):
            raise ValidationError(name, f"must be one of {', '.join(sorted(choices))}")
        return check.one_of(name, word, choices)

    return encode


def _datetime(field: Field) -> Encoder:
    name = field.name

    def encode(value: object) -> str:
        if not isinstance(value, str) or not _DATETIME(value):
            raise ValidationError(name, "must be a 'YYYY-MM-DD HH:MM:SS' time")
        return value

    return encode


def _digits(field: Field) -> Encoder:
    name, (low, high) = field.name, _bounds(field)
    bounds = field.values
    size = f"{low}" if low == high else f"{low} to {high}"

    def encode(value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value = f"{value:0{low}d}"
        if not (isinstance(value, str) and value.isascii() and value.isdigit()):
            raise ValidationError(name, f"must be {size} digits")
        if not low <= len(value) <= high:
            raise ValidationError(name, f"must be {size} digits")
        if bounds is not None and not bounds[0] <= int(value) <= bounds[1]:
            raise ValidationError(name, f"must be from {bounds[0]:0{low}} to {bounds[1]:0{low}}")
        return value

    return encode


def _iban(field: Field) -> Encoder:
    name = field.name

    def encode(value: object) -> str:
        compact = value.replace(" ", "").upper() if isinstance(value, str) else ""
        if not _IBAN(compact):
            raise ValidationError(name, "is not an IBAN")
        return compact

    return encode


def _receipt(field: Field) -> Encoder:
    name = field.name

    def encode(value: object) -> object:
        # Receipt positions encode themselves against RECEIPT_FIELDS (payments.ReceiptPosition).
        if not isinstance(value, (list, tuple)) or not value:
            raise ValidationError(name, "must be a non-empty sequence of ReceiptPosition")
        return [position.to_params(index) for index, position in enumerate(value)]

    return encode


_ENCODERS: dict[str, Callable[[Field], Encoder]] = {
    "text": _text,
    "order_id": _order_id,
    "user_id": _user_id,
    "amount": _amount,
    "currency": _simple(check.currency),
    "url": _url,
    "email": _simple(check.email),
    "phone": _simple(check.phone),
    "ip": _simple(check.ip_address),
    "card_number": _card_number,
    "id": _id,
    "int": _int,
    "flag": _flag,
    "choice": _choice,
    "datetime": _datetime,
    "digits": _digits,
    "iban": _iban,
    "receipt": _receipt,
}


def encode_fields(
    fields: Mapping[str, Field],
    required: tuple[str, ...],
    values: Mapping[str, object],
    *,
    script: str,
    open_fields: bool = False,
) -> dict[str, object]:
    """``values`` (None = not given) checked and encoded by ``fields``; required ones present.

    ``open_fields`` lets the merchant's own (non-``pg_``) fields through, as the scripts that
    echo them to callbacks allow.
    """
    encoded: dict[str, object] = {}
    extra: dict[str, str] = {}
    get = fields.get
    for name, value in values.items():
        if value is None:
            continue
        spec = get(name)
        if spec is not None:
            encoded[name] = spec.encode(value)
        elif open_fields and not name.startswith("pg_"):
            extra[name] = value  # type: ignore[assignment]
        else:
            raise ValidationError(name, f"is not a documented field of {script}")
    for name in required:
        if name not in encoded:
            raise ValidationError(name, "is required")
    if extra:
        encoded.update(check.merchant_fields(extra))
    return encoded
