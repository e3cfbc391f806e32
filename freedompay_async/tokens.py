"""``client.tokens``: the Gateway API's card storage and charges by saved-card token, Apple Pay
and Google Pay (PCI DSS merchants, enabled by the personal manager).

The charges go to ``g2g/payment``; a lost answer is resolved through ``g2g/status_v2`` by order
id, and the charge is never sent twice. A wallet charge that answers with a 3-D Secure
challenge is finished by :meth:`Tokens.complete_3ds` once the payer has passed it. Card storage
(``g2g/cardstorage/*``) saves a card from its number: the number and CVC go to the gateway
only, never into logs, reprs or messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import attrs

from . import _validation as check
from ._convert import to_int, to_text
from ._endpoints import ECI_VALUES, Endpoint, declared
from .cards import RemovedCard, SavedCard
from .errors import ValidationError
from .models import GatewayResponse
from .payments import Payment, ThreeDSChallenge, items, settle

if TYPE_CHECKING:
    from ._caller import Caller

__all__ = ["ECI_VALUES", "CardSave", "Tokens", "WalletToken"]


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

    def fields(self) -> dict[str, object]:
        """The token's values by wire name, as given (``g2g/payment``'s table checks them)."""
        return {
            "pg_card_pan": self.dpan,
            "pg_card_month": self.expiry_month,
            "pg_card_year": self.expiry_year,
            "pg_online_payment_cryptogram": self.cryptogram,
            "pg_eci_indicator": self.eci,
        }

    def to_params(self) -> dict[str, object]:
        """The token's fields, checked and encoded by ``g2g/payment``'s table."""
        endpoint = Tokens._PAY
        return {name: endpoint.field(name).encode(value) for name, value in self.fields().items()}


@attrs.frozen(slots=True)
class CardSave:
    """A card saved through the Gateway API (``g2g/cardstorage/add``), or on its way.

    With ``three_ds`` set the card is usable only once the payer has passed 3-D Secure at
    ``three_ds.acs_url`` and :meth:`Tokens.complete_card_3ds` has been called with what the
    issuer returned. ``card_mask`` is the masked number; ``secure_details`` is ``F``
    (frictionless) or ``C`` (challenge).
    """

    payment_id: int | None
    order_id: str | None
    user_id: str | None
    card_token: str | None
    card_mask: str | None
    three_ds: ThreeDSChallenge | None
    secure_details: str | None
    raw: GatewayResponse = attrs.field(repr=False)

    @property
    def saved(self) -> bool:
        """Whether the card is stored and usable (no 3-D Secure step left)."""
        return self.three_ds is None and self.card_token is not None

    @classmethod
    def from_answer(cls, answer: GatewayResponse) -> CardSave:
        fields = answer.fields
        three_ds = None
        if fields.get("pg_3ds") == "1" and to_text(fields.get("pg_3d_acsurl")):
            three_ds = ThreeDSChallenge(
                fields["pg_3d_acsurl"],
                to_text(fields.get("pg_3d_md")),
                to_text(fields.get("pg_3d_pareq")),
            )
        return cls(
            to_int(fields.get("pg_payment_id")),
            to_text(fields.get("pg_order_id")),
            to_text(fields.get("pg_user_id")),
            to_text(fields.get("pg_card_token")),
            to_text(fields.get("pg_card_mask")),
            three_ds,
            to_text(fields.get("pg_secure_details")),
            answer,
        )


class Tokens:
    """Gateway API token and wallet charges of one client (``client.tokens``)."""

    _PAY = declared("g2g/payment")
    _COMPLETE_3DS = declared("g2g/paymentAcs")
    _STATUS = declared("g2g/status_v2")
    _SAVE = declared("g2g/cardstorage/add")
    _COMPLETE_SAVE = declared("g2g/cardstorage/payment_acs")
    _LIST = declared("g2g/cardstorage/list")
    _REMOVE = declared("g2g/cardstorage/remove")

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
        if not card_token:  # optional in the table (wallet charges have none)
            raise ValidationError("pg_card_token", "is required")
        params = self._PAY.encode(
            **self._base(order_id, amount, description, currency, extra_params),
            pg_user_id=user_id,
            pg_card_token=card_token,
            pg_language=language,
        )
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
            "google_pay", order_id, amount, description, token, currency, auto_clearing, (), user_ip
        )
        return await self._charge(params, order_id)

    async def status(
        self, payment_id: int | None = None, *, order_id: str | None = None
    ) -> Payment:
        """A Gateway API payment's state (``g2g/status_v2``); give either id or both.

        By order id alone only the parent payment is found (not its refunds).
        """
        if payment_id is None and order_id is None:
            raise ValidationError("pg_payment_id", "give payment_id, order_id or both")
        params = self._STATUS.encode(pg_payment_id=payment_id, pg_order_id=order_id)
        return Payment.from_answer(await self._client.call(self._STATUS, params), order_id)

    async def complete_3ds(
        self, payment: Payment | int, *, md: str, pares: str, order_id: str | None = None
    ) -> Payment:
        """Finish an Apple Pay / Google Pay charge after the payer passed 3-D Secure.

        ``payment`` is what :meth:`apple_pay` / :meth:`google_pay` returned with ``three_ds``
        set (or its payment id); ``md`` and ``pares`` are what the issuer's page posted back to
        your return URL. The path is the Purchase 3DSecure call the token pages point to
        (``g2g/paymentAcs``, inferred). A lost answer is resolved through the status; never
        sent twice.
        """
        if isinstance(payment, Payment):
            if payment.payment_id is None:
                raise ValidationError("pg_payment_id", "the payment has no payment id")
            number, order_id = payment.payment_id, order_id or payment.order_id
        else:
            number = payment
        params = self._COMPLETE_3DS.encode(pg_payment_id=number, pg_md=md, pg_pares=pares)
        endpoint = self._COMPLETE_3DS

        async def attempt() -> Payment:
            return Payment.from_answer(await self._client.call(endpoint, params), order_id)

        async def completed() -> Payment | None:
            current = await self.status(number, order_id=order_id)
            return current if current.is_final else None

        return await settle(attempt(), completed, endpoint=endpoint, payment_id=number)

    async def save_card(
        self,
        *,
        user_id: str,
        card_number: str,
        expiry_month: int | str,
        expiry_year: int | str,
        cvc: str,
        cardholder: str,
        order_id: str | None = None,
        description: str | None = None,
    ) -> CardSave:
        """Save a card from its number for ``user_id`` (``g2g/cardstorage/add``, PCI DSS).

        The gateway verifies the card (a small amount is held and released). When the result
        has ``three_ds`` set, send the payer there, then call :meth:`complete_card_3ds`. A lost
        answer raises :class:`~freedompay_async.payments.PaymentOutcomeUnknown` (the card data
        is never sent twice): look for the card with :meth:`list_cards`.
        """
        params = self._SAVE.encode(
            pg_user_id=user_id,
            pg_card_pan=card_number,
            pg_card_month=expiry_month,
            pg_card_year=expiry_year,
            pg_card_cvc=cvc,
            pg_card_name=cardholder,
            pg_order_id=order_id,
            pg_description=description,
        )
        return await self._store(self._SAVE, params, order_id)

    async def complete_card_3ds(
        self, payment_id: CardSave | int, *, md: str, pares: str
    ) -> CardSave:
        """Finish saving a card after the payer passed 3-D Secure (``payment_acs``)."""
        number = payment_id.payment_id if isinstance(payment_id, CardSave) else payment_id
        params = self._COMPLETE_SAVE.encode(pg_payment_id=number, pg_md=md, pg_pares=pares)
        return await self._store(self._COMPLETE_SAVE, params, None)

    async def list_cards(self, user_id: str) -> tuple[SavedCard, ...]:
        """The user's cards in the Gateway API's card storage (``g2g/cardstorage/list``)."""
        answer = await self._client.call(self._LIST, self._LIST.encode(pg_user_id=user_id))
        return tuple(
            SavedCard.from_fields(card, answer.timezone) for card in items(answer.fields, "card")
        )

    async def remove_card(self, user_id: str, *, card_token: str) -> RemovedCard:
        """Remove a card from the Gateway API's card storage; removing twice is harmless."""
        params = self._REMOVE.encode(pg_user_id=user_id, pg_card_token=card_token)
        return RemovedCard.from_answer(await self._client.call(self._REMOVE, params), card_token)

    @staticmethod
    def _base(
        order_id: str,
        amount: Decimal | str,
        description: str,
        currency: str | None,
        extra_params: Sequence[str],
    ) -> dict[str, object]:
        return {
            "pg_order_id": order_id,
            "pg_amount": amount,
            "pg_description": description,
            "pg_currency": currency,
            **check.free_params(extra_params),
        }

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
        user_ip: str | None = None,
    ) -> dict[str, object]:
        if not isinstance(token, WalletToken):
            raise ValidationError("token", "must be a WalletToken")
        if method == "apple_pay" and token.cardholder is None:
            raise ValidationError("pg_card_name", "Apple Pay needs the cardholder name")
        return self._PAY.encode(
            **self._base(order_id, amount, description, currency, extra_params),
            pg_payment_method=method,
            **token.fields(),
            pg_card_name=token.cardholder if method == "apple_pay" else None,
            pg_auto_clearing=auto_clearing,
            pg_user_ip=user_ip,
        )

    async def _charge(self, params: dict[str, object], order_id: str) -> Payment:
        endpoint = self._PAY

        async def attempt() -> Payment:
            return Payment.from_answer(await self._client.call(endpoint, params), order_id)

        async def charged() -> Payment:
            return await self.status(order_id=order_id)

        return await settle(attempt(), charged, endpoint=endpoint, order_id=order_id)

    async def _store(
        self, endpoint: Endpoint, params: dict[str, object], order_id: str | None
    ) -> CardSave:
        # The card data is sent once: a lost answer is for list_cards to resolve, not a re-send.
        async def attempt() -> CardSave:
            return CardSave.from_answer(await self._client.call(endpoint, params))

        return await settle(attempt(), None, endpoint=endpoint, order_id=order_id)
