"""Typed, verified callbacks: check request, result, payout and card-saved notifications.

Each class is built from the fields of one request (:func:`parse_callback`). The signature is
checked over every received field with the script name of the merchant's URL before anything is
read; ``fields`` then holds exactly the signed fields (``pg_sig`` left out) and the typed
attributes are read from them. A documented field that is missing or unreadable raises
:class:`~freedompay_async.errors.MalformedCallback`; optional fields that cannot be read are
``None`` (their text stays in ``fields``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import attrs

from .. import signing
from .._convert import REGION_TIMEZONES, WordEnum, to_datetime, to_decimal, to_int
from .._endpoints import KeyKind
from .._masking import mask_card_numbers
from .._wire import flatten, parse_form
from ..errors import CallbackSignatureError, ConfigurationError, MalformedCallback
from ..payouts import PayoutState
from ._transport import received_fields, split_url

__all__ = [
    "CallbackFields",
    "CardSaveStatus",
    "CardSavedNotification",
    "CheckRequest",
    "GatewayCallback",
    "PaymentResult",
    "PayoutNotification",
    "ResultNotification",
    "parse_callback",
    "parse_callback_unverified",
    "secret_for",
    "verify_fields",
]

C = TypeVar("C", bound="GatewayCallback")


class CallbackFields(Mapping[str, str]):
    """Read-only ``name -> value`` text fields of a callback, in arrival order.

    Nested fields keep their PHP-style names (``pg_receipt_positions[0][name]``). The repr
    masks card numbers; the values themselves are as received.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data: dict[str, str] = dict(data or {})

    def __getitem__(self, name: str) -> str:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return mask_card_numbers(f"CallbackFields({self._data!r})")


class PaymentResult(WordEnum):
    """``pg_result`` of a result notification; other values are ``UNKNOWN`` (see ``result_raw``)."""

    SUCCESS = "1"
    FAILURE = "0"
    UNKNOWN = "unknown"


class CardSaveStatus(WordEnum):
    """``pg_status`` of a card-saved notification (``success`` documented, ``error`` inferred)."""

    SUCCESS = "success"
    ERROR = "error"
    UNKNOWN = "unknown"


def _masked(value: str | None) -> str | None:
    return mask_card_numbers(value) if value else None


@attrs.frozen(slots=True, repr=False, kw_only=True)
class GatewayCallback:
    """What every callback has; also a ``kind`` of its own for callbacks without a class here
    (e.g. the payer's signed redirect to ``pg_success_url``: order and payment id).

    ``fields`` are the signed fields (``pg_sig`` left out), ``extra`` the merchant's own
    (non-``pg_``) fields among them, echoed by the gateway. ``script`` is the script name the
    signature was checked with (answers are signed with it too); ``verified`` is false only for
    :func:`parse_callback_unverified`. ``can_reject`` says whether a ``rejected`` answer is
    honoured.
    """

    #: Which of the merchant's secret keys signs this callback.
    key_kind: ClassVar[KeyKind] = "payment"
    #: A short name for logs.
    kind: ClassVar[str] = "gateway"
    _shown: ClassVar[tuple[str, ...]] = ()

    fields: CallbackFields
    extra: CallbackFields
    script: str
    verified: bool
    payment_id: int
    order_id: str | None
    can_reject: bool

    @classmethod
    def _from_reader(cls: type[C], common: dict[str, Any], read: _Reader) -> C:
        return cls(**common)

    def __repr__(self) -> str:
        parts = [f"order_id={self.order_id!r}", f"payment_id={self.payment_id!r}"]
        for name in self._shown:
            value = getattr(self, name)
            shown = value.name if isinstance(value, enum.Enum) else repr(value)
            parts.append(f"{name}={shown}")
        if not self.verified:
            parts.append("verified=False")
        return mask_card_numbers(f"{type(self).__name__}({', '.join(parts)})")


@attrs.frozen(slots=True, repr=False, kw_only=True)
class CheckRequest(GatewayCallback):
    """Check request (to ``pg_check_url``): may the payment go ahead? Sent before money is taken.

    A check request can always be answered ``rejected`` (that is what it is for: the money is
    then not taken), so ``can_reject`` is always true. No answer in time counts as a refusal.
    """

    kind: ClassVar[str] = "check"
    _shown = ("amount", "currency")

    amount: Decimal
    currency: str | None
    ps_amount: Decimal | None
    ps_full_amount: Decimal | None
    ps_currency: str | None

    @classmethod
    def _from_reader(cls, common: dict[str, Any], read: _Reader) -> CheckRequest:
        return cls(
            **{**common, "can_reject": True},
            amount=read.required_decimal("pg_amount"),
            currency=read.text("pg_currency"),
            ps_amount=read.decimal("pg_ps_amount"),
            ps_full_amount=read.decimal("pg_ps_full_amount"),
            ps_currency=read.text("pg_ps_currency"),
        )


@attrs.frozen(slots=True, repr=False, kw_only=True)
class ResultNotification(GatewayCallback):
    """Result notification (to ``pg_result_url``), sent after a payment succeeded or failed.

    ``result`` is ``pg_result`` (``1`` success, ``0`` failure; anything else ``UNKNOWN`` with the
    text in ``result_raw``). ``can_reject`` is ``pg_can_reject == "1"``: only then may the
    answer be ``rejected`` (the payment is then cancelled). ``card_pan`` is masked even if the
    gateway sent it in full; ``card_token`` is left out of the repr.
    """

    kind: ClassVar[str] = "result"
    _shown = ("result", "amount", "currency", "can_reject")

    result: PaymentResult
    result_raw: str
    amount: Decimal
    currency: str | None
    net_amount: Decimal | None
    ps_amount: Decimal | None
    ps_full_amount: Decimal | None
    ps_currency: str | None
    description: str | None
    payment_date: datetime | None
    payment_method: str | None
    testing_mode: bool
    captured: bool | None
    card_pan: str | None
    card_brand: str | None
    card_exp: str | None
    card_token: str | None
    card_id: str | None
    recurring_profile_id: str | None
    user_phone: str | None
    user_email: str | None

    @property
    def succeeded(self) -> bool:
        """Whether the payment succeeded (``pg_result == "1"``)."""
        return self.result is PaymentResult.SUCCESS

    @classmethod
    def _from_reader(cls, common: dict[str, Any], read: _Reader) -> ResultNotification:
        raw_result = read.text("pg_result") or ""
        return cls(
            **{**common, "can_reject": read.text("pg_can_reject") == "1"},
            result=PaymentResult(raw_result),
            result_raw=raw_result,
            amount=read.required_decimal("pg_amount"),
            currency=read.text("pg_currency"),
            net_amount=read.decimal("pg_net_amount"),
            ps_amount=read.decimal("pg_ps_amount"),
            ps_full_amount=read.decimal("pg_ps_full_amount"),
            ps_currency=read.text("pg_ps_currency"),
            description=read.text("pg_description"),
            payment_date=read.datetime("pg_payment_date"),
            payment_method=read.text("pg_payment_method"),
            testing_mode=read.flag("pg_testing_mode") is True,
            captured=read.flag("pg_captured"),
            card_pan=_masked(read.text("pg_card_pan")),
            card_brand=read.text("pg_card_brand"),
            card_exp=read.text("pg_card_exp"),
            card_token=read.text("pg_card_token"),
            card_id=read.text("pg_card_id"),
            recurring_profile_id=read.text("pg_recurring_profile_id"),
            user_phone=read.text("pg_user_phone"),
            user_email=read.text("pg_user_contact_email"),
        )


@attrs.frozen(slots=True, repr=False, kw_only=True)
class PayoutNotification(GatewayCallback):
    """Payout notification (to ``pg_post_link``), signed with the payout key.

    ``state`` is ``pg_status``: ``ok`` -> ``SUCCESS``, ``error`` -> ``ERROR``; missing or
    unexpected words -> ``UNKNOWN`` (text in ``status_raw``): never read that as success.
    The gateway only needs HTTP 200; it cannot be rejected.
    """

    key_kind: ClassVar[KeyKind] = "payout"
    kind: ClassVar[str] = "payout"
    _shown = ("state", "amount")

    state: PayoutState
    status_raw: str
    merchant_id: str | None
    amount: Decimal | None
    to_pay: Decimal | None
    balance: Decimal | None
    card_hash: str | None
    payment_date: datetime | None
    error_code: int | None
    error_description: str | None

    @classmethod
    def _from_reader(cls, common: dict[str, Any], read: _Reader) -> PayoutNotification:
        raw_status = read.text("pg_status") or ""
        return cls(
            **common,
            state=PayoutState(raw_status),
            status_raw=raw_status,
            merchant_id=read.text("pg_merchant_id"),
            amount=read.decimal("pg_payment_amount"),
            to_pay=read.decimal("pg_to_pay"),
            balance=read.decimal("pg_balance"),
            card_hash=_masked(read.text("pg_card_hash")),
            payment_date=read.datetime("pg_payment_date", "pg_datetime"),
            error_code=to_int(read.text("pg_error_code")),
            error_description=read.text("pg_error_description"),
        )


@attrs.frozen(slots=True, repr=False, kw_only=True)
class CardSavedNotification(GatewayCallback):
    """Card-saved notification (to the ``pg_post_link`` of a card-saving page).

    ``status`` is ``pg_status`` (``success`` when the card was saved). ``card_token`` (use it
    to pay or pay out later) is left out of the repr; ``card_hash`` is a masked card number.
    """

    kind: ClassVar[str] = "card-saved"
    _shown = ("status", "user_id")

    status: CardSaveStatus
    status_raw: str
    user_id: str | None
    card_token: str | None
    card_id: str | None
    card_hash: str | None
    card_month: str | None
    card_year: str | None
    card_3ds: str | None

    @property
    def saved(self) -> bool:
        """Whether the card was saved."""
        return self.status is CardSaveStatus.SUCCESS

    @classmethod
    def _from_reader(cls, common: dict[str, Any], read: _Reader) -> CardSavedNotification:
        raw_status = read.text("pg_status") or ""
        return cls(
            **common,
            status=CardSaveStatus(raw_status),
            status_raw=raw_status,
            user_id=read.text("pg_user_id"),
            card_token=read.text("pg_card_token"),
            card_id=read.text("pg_card_id"),
            card_hash=_masked(read.text("pg_card_hash")),
            card_month=read.text("pg_card_month"),
            card_year=read.text("pg_card_year"),
            card_3ds=read.text("pg_card_3ds"),
        )


class _Reader:
    """Typed reads of top-level fields; a missing documented field is a MalformedCallback."""

    __slots__ = ("kind", "pairs", "raw", "top", "zone")

    def __init__(
        self,
        kind: str,
        top: Mapping[str, object],
        pairs: Sequence[tuple[str, str]],
        raw: bytes,
        zone: tzinfo,
    ) -> None:
        self.kind = kind
        self.top = top
        self.pairs = pairs
        self.raw = raw
        self.zone = zone

    def datetime(self, *names: str) -> datetime | None:
        """The first of ``names`` present, read as a time; naive ones are the region's time."""
        for name in names:
            value = self.text(name)
            if value is not None:
                return to_datetime(value, self.zone)
        return None

    def text(self, name: str) -> str | None:
        value = self.top.get(name)
        return value if isinstance(value, str) and value else None

    def decimal(self, name: str) -> Decimal | None:
        return to_decimal(self.top.get(name))

    def flag(self, name: str) -> bool | None:
        return {"1": True, "0": False}.get(self.text(name) or "")

    def required_decimal(self, name: str) -> Decimal:
        value = self.decimal(name)
        if value is None:
            raise self.missing(name, "an amount")
        return value

    def required_int(self, name: str) -> int:
        value = to_int(self.top.get(name))
        if value is None:
            raise self.missing(name, "a number")
        return value

    def missing(self, name: str, what: str) -> MalformedCallback:
        message = f"{self.kind} callback: {name} is missing or not {what}"
        return MalformedCallback(message, raw=self.raw, fields=self.pairs)


def _is_gateway_field(name: str) -> bool:
    return name.partition("[")[0].startswith("pg_")


def secret_for(kind: type[GatewayCallback], secret_key: str, payout_secret_key: str | None) -> str:
    """The key that signs ``kind``: the payout key for payout notifications when given,
    otherwise ``secret_key`` (the payment key) - the client's rule for its two keys."""
    key = secret_key
    if kind.key_kind == "payout" and payout_secret_key is not None:
        key = payout_secret_key
    if not isinstance(key, str) or not key:
        raise ConfigurationError("the callback's secret key must be a non-empty string")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError("the callback's secret key is not valid Unicode text") from None
    return key


def _script(url: str, script: str | None) -> str:
    if script is None:
        script = split_url(url)[0].rpartition("/")[2]
    return script


def _check_signature(
    nested: Mapping[str, object],
    pairs: Sequence[tuple[str, str]],
    *,
    script: str,
    secret_key: str,
    what: str,
    raw: bytes,
) -> None:
    signature = nested.get("pg_sig")
    if not isinstance(signature, str) or not signature:
        raise CallbackSignatureError(f"{what} has no pg_sig", raw=raw, fields=pairs)
    try:
        valid = signing.verify(script, nested, secret_key)
    except UnicodeEncodeError:  # a script name from a URL path that is not valid text
        valid = False
    if not valid:
        raise CallbackSignatureError(
            f"{what}: pg_sig does not verify for script {script!r} "
            f"(wrong key - payment vs payout? - or a proxy changed the path: pass script=)",
            raw=raw,
            fields=pairs,
        )


def _signed_fields(nested: Mapping[str, object]) -> dict[str, str]:
    return {form_name: value for _, form_name, value in flatten(nested)}


def verify_fields(
    pairs: Sequence[tuple[str, str]], *, script: str, secret_key: str
) -> CallbackFields:
    """The signed fields of decoded ``pairs`` (see :func:`received_fields`), or
    :class:`~freedompay_async.errors.CallbackSignatureError`.

    For callbacks this module has no class for. Bracket names are rebuilt into the nested
    structure the gateway signed; ``pg_sig`` is left out of the result.
    """
    nested = parse_form(pairs)
    _check_signature(nested, pairs, script=script, secret_key=secret_key, what="callback", raw=b"")
    return CallbackFields(_signed_fields(nested))


def _build(
    kind: type[C],
    pairs: Sequence[tuple[str, str]],
    *,
    script: str,
    secret_key: str | None,
    raw: bytes,
    region: str,
) -> C:
    zone = region_zone(region)
    nested = parse_form(pairs)
    if secret_key is not None:
        what = f"{kind.kind} callback"
        _check_signature(nested, pairs, script=script, secret_key=secret_key, what=what, raw=raw)
    signed = _signed_fields(nested)
    extra = {name: value for name, value in signed.items() if not _is_gateway_field(name)}
    read = _Reader(kind.kind, nested, pairs, raw, zone)
    common: dict[str, Any] = {
        "fields": CallbackFields(signed),
        "extra": CallbackFields(extra),
        "script": script,
        "verified": secret_key is not None,
        "payment_id": read.required_int("pg_payment_id"),
        "order_id": read.text("pg_order_id"),
        "can_reject": False,
    }
    return kind._from_reader(common, read)


def parse_callback(
    kind: type[C],
    url: str,
    body: bytes = b"",
    content_type: str | None = None,
    *,
    secret_key: str,
    payout_secret_key: str | None = None,
    script: str | None = None,
    region: str = "kz",
) -> C:
    """Decode and verify one callback request; only a verified callback comes back.

    ``kind`` is the callback expected at this URL (:class:`ResultNotification`,
    :class:`CheckRequest`, :class:`PayoutNotification`, :class:`CardSavedNotification`);
    ``url`` the URL the request was made to with its query string (host optional), ``body``
    the raw body and ``content_type`` its ``Content-Type`` header. The signature is checked
    with the last path segment of ``url`` as script name (``script=`` overrides it when a proxy
    rewrites paths) and with ``secret_key`` - or ``payout_secret_key``, when given, for payout
    notifications. ``region`` (``kz``, ``uz``, ``kg``) is the gateway whose local time naive
    dates are in (Kyrgyzstan is UTC+6, the others UTC+5), as the client's ``region``.

    Raises :class:`~freedompay_async.errors.CallbackSignatureError` (no or wrong ``pg_sig``)
    and :class:`~freedompay_async.errors.MalformedCallback` (unreadable request, or a documented
    field missing); both keep the body and fields for diagnosis.
    """
    key = secret_for(kind, secret_key, payout_secret_key)
    pairs = received_fields(url, body, content_type)
    return _build(kind, pairs, script=_script(url, script), secret_key=key, raw=body, region=region)


def parse_callback_unverified(
    kind: type[C],
    url: str,
    body: bytes = b"",
    content_type: str | None = None,
    *,
    script: str | None = None,
    region: str = "kz",
) -> C:
    """Like :func:`parse_callback` but **without checking the signature** (``verified`` is
    false). For diagnosis and replaying stored requests only: never act on its content."""
    pairs = received_fields(url, body, content_type)
    return _build(
        kind, pairs, script=_script(url, script), secret_key=None, raw=body, region=region
    )


def region_zone(region: str) -> tzinfo:
    """The gateway's local time zone of ``region``; an unknown region is a ValueError."""
    try:
        return REGION_TIMEZONES[region]
    except KeyError:
        raise ValueError(f"region must be one of {', '.join(REGION_TIMEZONES)}") from None
