"""What every emulated script shares: settings, error codes, answers and field checks.

The helpers raise :class:`_Refused` carrying a signed error answer; the gateway turns it into
the answer of the request. Field checks name the field in ``pg_error_description`` (code 110),
as the gateway does.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeAlias

import attrs

from .._convert import REGION_TIMEZONES
from .._endpoints import Endpoint
from ._notifier import TEST_RETRY_DELAYS

__all__ = [
    "EMULATOR_HOST",
    "PAYOUT_CARD_SAVE_NAMES",
    "Answer",
    "EmulatorSettings",
    "ErrorCode",
    "Fields",
    "Handler",
    "PayoutCardSave",
    "Route",
]

_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("99999999")

#: Where the emulated hosted pages (payment page, card form, 3-D Secure) claim to live: a
#: reserved name that never resolves, so nothing in a test can reach a real gateway page.
EMULATOR_HOST = "https://freedompay-emulator.invalid"


class ErrorCode(enum.IntEnum):
    """Error codes the emulator answers with.

    Documented codes: 100 bad signature, 110 invalid parameter, 360 payment expired (used as a
    payment's ``pg_failure_code``), 490 payment cannot be cancelled, 9998 unknown merchant
    (unsigned), 11068 payment not found.

    The emulator's own codes (the gateway's codes for these cases are not published), chosen
    outside every documented code:

    * 10101 ``ORDER_EXISTS``: a create with a ``pg_order_id`` already used (payouts,
      ``g2g/payment``, ``make_recurring_payment.php`` with an order id);
    * 10102 ``INSUFFICIENT_BALANCE``: a payout larger than the balance;
    * 10103 ``IDEMPOTENCY_CONFLICT``: a ``pg_idempotency_key`` reused with other parameters;
    * 10104 ``INVALID_STATE``: the payment is in no state for this call (capture of a payment
      that is not held, refund of one not captured, ``mfs/pay`` of a card payment, ...);
    * 10105 ``RECURRING_PROFILE_NOT_FOUND``: unknown or expired ``pg_recurring_profile``;
    * 10106 ``INVALID_APPROVAL_CODE``: wrong one-time code on ``mfs/approve``;
    * 10107 ``CARD_NOT_FOUND``: the card token is not a saved card of this user and purpose;
    * 10108 ``CHECK_REJECTED``: the ``pg_failure_code`` of a payment the merchant's check URL
      refused (answered ``rejected`` / ``error``, answered unsigned, or did not answer).
    """

    BAD_SIGNATURE = 100
    INVALID_PARAMETER = 110
    PAYMENT_EXPIRED = 360
    CANNOT_CANCEL = 490
    UNKNOWN_MERCHANT = 9998
    PAYMENT_NOT_FOUND = 11068
    ORDER_EXISTS = 10101
    INSUFFICIENT_BALANCE = 10102
    IDEMPOTENCY_CONFLICT = 10103
    INVALID_STATE = 10104
    RECURRING_PROFILE_NOT_FOUND = 10105
    INVALID_APPROVAL_CODE = 10106
    CARD_NOT_FOUND = 10107
    CHECK_REJECTED = 10108


#: Saving a card for payouts: which variant of the contradicting docs the emulated gateway
#: expects (``shared/api/tokens-and-cards.md`` section 4, M2, variants A to D). The names are
#: those of the client's ``PayoutCardStorage`` variants, lower-cased.
PayoutCardSave: TypeAlias = Literal[
    "documented", "cardstorage_add2", "payout_add", "payout_add2_payout_key"
]
PAYOUT_CARD_SAVE_NAMES: tuple[PayoutCardSave, ...] = (
    "documented",
    "cardstorage_add2",
    "payout_add",
    "payout_add2_payout_key",
)


def _decimal(value: Decimal | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _delays(value: Iterable[float]) -> tuple[float, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class EmulatorSettings:
    """The emulated merchant account. Keys never appear in reprs.

    ``payout_secret_key`` defaults to ``secret_key`` (a merchant with one key). ``api_root`` is
    the answer root of the Merchant API payout scripts (``api/*``) and ``mfs_root`` the one of
    the mobile balance scripts (``mfs/*``): the docs show ``root`` there and ``response``
    everywhere else (``init_payment.php`` answers ``response`` whatever the payment method).

    ``payout_card_save`` is how the emulated gateway expects a card to be saved for payouts
    (the docs disagree; the other paths are served too and refuse with the signed code 100):

    * ``"documented"`` (default; variant A, the English docs and the endpoint table's
      ``cards.add_for_payouts``): ``v1/merchant/{id}/cardstoragepayout/add`` signed as
      ``add2`` with the payment key;
    * ``"cardstorage_add2"`` (B, the Russian docs): ``v1/merchant/{id}/cardstorage/add2``,
      ``add2``, payment key;
    * ``"payout_add"`` (C, a 2026 sandbox probe): ``v1/merchant/{id}/cardstoragepayout/add``,
      ``add``, payment key;
    * ``"payout_add2_payout_key"`` (D): ``v1/merchant/{id}/cardstoragepayout/add2``,
      ``add2``, payout key.
    """

    merchant_id: str = attrs.field(converter=str)
    secret_key: str = attrs.field(repr=False)
    payout_secret_key: str | None = attrs.field(default=None, repr=False)
    balance: Decimal = attrs.field(default=Decimal("1000000.00"), converter=_decimal)
    currency: str = "KZT"
    api_root: str = "root"
    mfs_root: str = "root"
    payout_card_save: PayoutCardSave = attrs.field(
        default="documented", validator=attrs.validators.in_(PAYOUT_CARD_SAVE_NAMES)
    )
    notify_retry_delays: tuple[float, ...] = attrs.field(
        default=TEST_RETRY_DELAYS, converter=_delays
    )
    notify_timeout: float = 5.0
    #: ``False``: a create with a known ``pg_order_id`` is paid again (a gateway that does not
    #: refuse repeated order ids; the docs do not promise it does).
    refuse_duplicate_orders: bool = True
    #: The gateway's country: its local time is what naive dates are written in (kz/uz UTC+5,
    #: kg UTC+6); clients from :meth:`Emulator.client` use the same region.
    region: str = attrs.field(default="kz", validator=attrs.validators.in_(REGION_TIMEZONES))

    @property
    def timezone(self) -> datetime.tzinfo:
        """The zone of the dates the emulated gateway writes."""
        return REGION_TIMEZONES[self.region]

    def key(self, endpoint: Endpoint) -> str:
        """The secret key that signs ``endpoint``."""
        return self.payout_key if endpoint.key == "payout" else self.secret_key

    @property
    def payout_key(self) -> str:
        """The payout secret key (the payment key for a merchant with one key)."""
        return self.secret_key if self.payout_secret_key is None else self.payout_secret_key


#: Answer fields: text leaves, nested mappings (nested elements), lists (repeated elements).
AnswerFields: TypeAlias = dict[str, Any]


@attrs.frozen(slots=True)
class Answer:
    """Answer fields without ``pg_salt`` / ``pg_sig``; ``signed=False`` only for 9998.

    ``html`` makes the answer a page for the payer's browser (``card/pay``) instead of XML.
    ``sign_as`` (script, key) overrides how the answer is signed (a refusal signed the way the
    caller signed its request, so the caller can read it).
    """

    fields: AnswerFields
    signed: bool = True
    html: str | None = None
    sign_as: tuple[str, str] | None = attrs.field(default=None, repr=False)


Fields: TypeAlias = Mapping[str, Any]


#: What serves one script: the request's fields in, the answer out.
Handler = Callable[[Fields], Answer]


@attrs.frozen(slots=True)
class Route:
    """A served script: its endpoint entry, signing key, answer root and handler.

    ``alternates`` are other (script, key) signings documented for the same path: a request
    signed one of those ways is refused with code 100 signed that way, so its sender can read
    the refusal (saving a card for payouts, where the docs disagree).
    """

    endpoint: Endpoint
    key: str = attrs.field(repr=False)
    root: str
    handler: Handler
    alternates: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)


class _Refused(Exception):
    """Control flow: the request is refused with ``answer``."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(str(answer.fields.get("pg_error_description", "")))
        self.answer = answer


def _error(code: ErrorCode | int, description: str, **extra: str) -> Answer:
    fields: AnswerFields = {"pg_status": "error", "pg_error_code": str(int(code))}
    fields["pg_error_description"] = description
    fields.update(extra)
    return Answer(fields)


def _refuse(code: ErrorCode | int, description: str) -> _Refused:
    return _Refused(_error(code, description))


def _invalid(name: str, detail: str) -> _Refused:
    return _refuse(ErrorCode.INVALID_PARAMETER, f"Invalid parameter {name}: {detail}")


def _money(value: Decimal) -> str:
    return format(value.quantize(_CENT), "f")


def _required(fields: Fields, name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise _refuse(ErrorCode.INVALID_PARAMETER, f"Missing required parameter {name}")
    return value


def _optional(fields: Fields, name: str) -> str | None:
    """The field's text, ``None`` when absent or empty."""
    value = fields.get(name)
    return value if isinstance(value, str) and value else None


def _parse_amount(name: str, text: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if (
        not amount.is_finite()
        or not _CENT <= amount <= _MAX_AMOUNT
        or amount != amount.quantize(_CENT)
    ):
        raise _invalid(name, "expected 0.01 to 99999999 with at most 2 decimals")
    return amount


def _amount(fields: Fields, name: str = "pg_amount") -> Decimal:
    return _parse_amount(name, _required(fields, name))


_ZERO = re.compile(r"0+(?:\.0*)?").fullmatch


def _optional_amount(fields: Fields, name: str, *, zero_is_none: bool = False) -> Decimal | None:
    """An optional amount; with ``zero_is_none`` a ``0`` means "not given" (full refund)."""
    text = _optional(fields, name)
    if text is None or (zero_is_none and _ZERO(text)):
        return None
    return _parse_amount(name, text)


def _text(fields: Fields, name: str, max_length: int) -> str:
    """A required text field of at most ``max_length`` characters."""
    value = _required(fields, name)
    if len(value) > max_length:
        raise _invalid(name, f"at most {max_length} characters")
    return value


def _optional_text(fields: Fields, name: str, max_length: int) -> str | None:
    value = _optional(fields, name)
    if value is not None and len(value) > max_length:
        raise _invalid(name, f"at most {max_length} characters")
    return value


_USER_ID = re.compile(r"[a-zA-Z0-9_-]{1,50}").fullmatch


def _user_id(fields: Fields, *, required: bool) -> str | None:
    """``pg_user_id``: 1 to 50 of ``[a-zA-Z0-9_-]``."""
    value = _required(fields, "pg_user_id") if required else _optional(fields, "pg_user_id")
    if value is not None and not _USER_ID(value):
        raise _invalid("pg_user_id", "1 to 50 characters of a-z, A-Z, 0-9, _ and -")
    return value


def _url(fields: Fields, name: str, *, required: bool = False) -> str | None:
    """A URL field (at most 255 characters)."""
    return _text(fields, name, 255) if required else _optional_text(fields, name, 255)


def _flag(fields: Fields, name: str, default: bool) -> bool:
    """A ``0`` / ``1`` field."""
    value = _optional(fields, name)
    if value is None:
        return default
    if value not in ("0", "1"):
        raise _invalid(name, "expected 0 or 1")
    return value == "1"


def _int_between(fields: Fields, name: str, low: int, high: int) -> int | None:
    value = _optional(fields, name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 9 and low <= int(value) <= high):
        raise _invalid(name, f"expected an integer from {low} to {high}")
    return int(value)


def _choice(fields: Fields, name: str, allowed: frozenset[str]) -> str | None:
    value = _optional(fields, name)
    if value is not None and value not in allowed:
        raise _invalid(name, f"expected one of {', '.join(sorted(allowed))}")
    return value


def _digits(fields: Fields, name: str, low: int, high: int) -> str:
    """A required field of ``low`` to ``high`` ASCII digits."""
    value = _required(fields, name)
    if not (value.isascii() and value.isdigit() and low <= len(value) <= high):
        what = f"{low}" if low == high else f"{low} to {high}"
        raise _invalid(name, f"expected {what} digits")
    return value


def _numeric_id(text: str | None) -> int | None:
    """A gateway id sent as text, ``None`` unless it is a plausible one."""
    if text is None or not (text.isascii() and text.isdigit() and len(text) <= 18):
        return None
    return int(text)
