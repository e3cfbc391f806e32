"""``client.tokens``: Gateway API charges by saved-card token, Apple Pay and Google Pay.

All three go to ``g2g/payment`` (PCI DSS merchants, enabled by the personal manager). A lost
answer is resolved through ``g2g/status_v2`` by order id; the charge is never sent twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import attrs

from . import _validation as check
from ._endpoints import declared
from .errors import ValidationError
from .payments import LANGUAGES, Payment, order_params, payment_id_text, settle

if TYPE_CHECKING:
    from ._caller import Caller

__all__ = ["ECI_VALUES", "Tokens", "WalletToken"]

#: The ECI values a decrypted Apple Pay / Google Pay token carries.
ECI_VALUES = frozenset({"00", "01", "02", "05", "06", "07"})


def _two_digits(field: str, value: int | str) -> str:
    text = f"{value:02d}" if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or len(text) != 2 or not text.isdigit():
        raise ValidationError(field, "must be two digits")
    return text


@attrs.frozen(slots=True)
class WalletToken:
    """The card data of a decrypted Apple Pay / Google Pay token (what your PSP SDK yields).

    ``dpan`` is the device card number, ``cryptogram`` the online payment cryptogram; both stay
    out of reprs. ``cardholder`` is required for Apple Pay.
    """

    dpan: str = attrs.field(repr=False)
    expiry_month: int | str
    expiry_year: int | str
    cryptogram: str = attrs.field(repr=False)
    eci: str
    cardholder: str | None = attrs.field(default=None, repr=False)

    def to_params(self) -> dict[str, object]:
        dpan = self.dpan if isinstance(self.dpan, str) else ""
        if not (dpan.isdigit() and 13 <= len(dpan) <= 20):
            raise ValidationError("pg_card_pan", "the device card number must be 13 to 20 digits")
        month = _two_digits("pg_card_month", self.expiry_month)
        if not 1 <= int(month) <= 12:
            raise ValidationError("pg_card_month", "must be 01 to 12")
        return {
            "pg_card_pan": dpan,
            "pg_card_month": month,
            "pg_card_year": _two_digits("pg_card_year", self.expiry_year),
            "pg_online_payment_cryptogram": check.required_text(
                "pg_online_payment_cryptogram", self.cryptogram, max_length=512
            ),
            "pg_eci_indicator": check.one_of("pg_eci_indicator", self.eci, ECI_VALUES),
        }


class Tokens:
    """Gateway API token and wallet charges of one client (``client.tokens``)."""

    _PAY = declared("g2g/payment")
    _STATUS = declared("g2g/status_v2")

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def pay(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        description: str,
        user_id: str,
        card_token: str,
        currency: str | None = None,
        language: str | None = None,
        extra_params: Sequence[str] = (),
    ) -> Payment:
        """Charge a card the payer saved earlier (Token Pay), without the payer present.

        A decline raises :class:`~freedompay_async.errors.GatewayError` (by code); a lost
        answer is looked up by ``order_id`` and, if the status cannot show it, raises
        :class:`~freedompay_async.payments.PaymentOutcomeUnknown`.
        """
        params = self._base(order_id, amount, description, currency, extra_params)
        params["pg_user_id"] = check.user_id("pg_user_id", user_id)
        params["pg_card_token"] = check.required_text("pg_card_token", card_token, max_length=255)
        if language is not None:
            params["pg_language"] = check.one_of("pg_language", language, LANGUAGES)
        return await self._charge(params, order_id)

    async def apple_pay(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        description: str,
        token: WalletToken,
        currency: str | None = None,
        auto_clearing: bool | None = None,
        extra_params: Sequence[str] = (),
    ) -> Payment:
        """Charge a decrypted Apple Pay token. ``payment.three_ds`` set: send the payer there."""
        params = self._wallet_params(
            "apple_pay", order_id, amount, description, token, currency, auto_clearing, extra_params
        )
        return await self._charge(params, order_id)

    async def google_pay(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        description: str,
        token: WalletToken,
        currency: str | None = None,
        auto_clearing: bool | None = None,
        user_ip: str | None = None,
    ) -> Payment:
        """Charge a decrypted Google Pay token. ``payment.three_ds`` set: send the payer there."""
        params = self._wallet_params(
            "google_pay", order_id, amount, description, token, currency, auto_clearing, ()
        )
        if user_ip is not None:
            params["pg_user_ip"] = check.ip_address("pg_user_ip", user_ip)
        return await self._charge(params, order_id)

    async def status(
        self, payment_id: int | None = None, *, order_id: str | None = None
    ) -> Payment:
        """A Gateway API payment's state (``g2g/status_v2``); give either id or both.

        By order id alone only the parent payment is found (not its refunds).
        """
        if payment_id is None and order_id is None:
            raise ValidationError("pg_payment_id", "give payment_id, order_id or both")
        params: dict[str, object] = {}
        if payment_id is not None:
            params["pg_payment_id"] = payment_id_text(payment_id)
        if order_id is not None:
            params["pg_order_id"] = check.order_id("pg_order_id", order_id)
        return Payment.from_answer(await self._client.call(self._STATUS, params), order_id)

    @staticmethod
    def _base(
        order_id: str,
        amount: Decimal | str,
        description: str,
        currency: str | None,
        extra_params: Sequence[str],
    ) -> dict[str, object]:
        params = order_params(order_id, amount, description, currency)
        params.update(check.free_params(extra_params))
        return params

    def _wallet_params(
        self,
        method: Literal["apple_pay", "google_pay"],
        order_id: str,
        amount: Decimal | str,
        description: str,
        token: WalletToken,
        currency: str | None,
        auto_clearing: bool | None,
        extra_params: Sequence[str],
    ) -> dict[str, object]:
        if not isinstance(token, WalletToken):
            raise ValidationError("token", "must be a WalletToken")
        params = self._base(order_id, amount, description, currency, extra_params)
        params["pg_payment_method"] = method
        params.update(token.to_params())
        if method == "apple_pay":
            if token.cardholder is None:
                raise ValidationError("pg_card_name", "Apple Pay needs the cardholder name")
            params["pg_card_name"] = check.required_text(
                "pg_card_name", token.cardholder, max_length=255
            )
        if auto_clearing is not None:
            params["pg_auto_clearing"] = check.flag(auto_clearing)
        return params

    async def _charge(self, params: dict[str, object], order_id: str) -> Payment:
        endpoint = self._PAY

        async def attempt() -> Payment:
            return Payment.from_answer(await self._client.call(endpoint, params), order_id)

        async def charged() -> Payment:
            return await self.status(order_id=order_id)

        return await settle(attempt(), charged, endpoint=endpoint, order_id=order_id)
