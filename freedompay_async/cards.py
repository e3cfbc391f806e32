"""``client.cards``: saved cards (Merchant API) and paying with them.

Saving a card opens FreedomPay's hosted card form (the card number never passes through the
merchant); the result arrives at ``post_link``. A saved card pays through
:meth:`Cards.create_payment` followed by either the payer's CVC page (:meth:`Cards.cvc_page`)
or a charge without the payer (:meth:`Cards.charge`, for cards in status ``approved`` and when
the manager enabled it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from ._convert import GATEWAY_TIMEZONE, WordEnum, to_bool, to_datetime, to_int, to_text
from ._endpoints import Endpoint, KeyKind, declared
from ._masking import mask_card_numbers
from .errors import ProtocolError
from .models import GatewayResponse, PageAnswer
from .payments import (
    Payment,
    Payments,
    PaymentState,
    ReceiptPosition,
    items,
    payer_fields,
    settle,
)

if TYPE_CHECKING:
    from ._caller import Caller

__all__ = [
    "CardForm",
    "CardPayment",
    "CardState",
    "Cards",
    "CvcPage",
    "PayoutCardStorage",
    "RemovedCard",
    "SavedCard",
]


@attrs.frozen(slots=True)
class PayoutCardStorage:
    """Where saving a card *for payouts* is sent: the docs publish four variants.

    :attr:`DOCUMENTED` (the English docs: ``cardstoragepayout/add`` signed as ``add2``) is the
    default; :attr:`CARDSTORAGE_ADD2` follows the Russian docs, :attr:`PAYOUT_ADD` what a 2026
    sandbox probe accepted (script ``add``), :attr:`PAYOUT_ADD2_PAYOUT_KEY` a variant signed with
    the payout key. Your manager can tell which one your account uses.
    """

    path: str
    script: str
    key: KeyKind = "payment"

    DOCUMENTED: ClassVar[PayoutCardStorage]
    CARDSTORAGE_ADD2: ClassVar[PayoutCardStorage]
    PAYOUT_ADD: ClassVar[PayoutCardStorage]
    PAYOUT_ADD2_PAYOUT_KEY: ClassVar[PayoutCardStorage]

    def endpoint(self) -> Endpoint:
        """The documented entry with this variant's path, script and key (same fields)."""
        return attrs.evolve(
            _DOCUMENTED_PAYOUT_ADD, path=self.path, script=self.script, key=self.key
        )


_DOCUMENTED_PAYOUT_ADD = declared("v1/merchant/{merchant_id}/cardstoragepayout/add")
PayoutCardStorage.DOCUMENTED = PayoutCardStorage(
    _DOCUMENTED_PAYOUT_ADD.path, _DOCUMENTED_PAYOUT_ADD.script
)
PayoutCardStorage.CARDSTORAGE_ADD2 = PayoutCardStorage(
    "v1/merchant/{merchant_id}/cardstorage/add2", "add2"
)
PayoutCardStorage.PAYOUT_ADD = PayoutCardStorage(
    "v1/merchant/{merchant_id}/cardstoragepayout/add", "add"
)
PayoutCardStorage.PAYOUT_ADD2_PAYOUT_KEY = PayoutCardStorage(
    "v1/merchant/{merchant_id}/cardstoragepayout/add2", "add2", "payout"
)


class CardState(WordEnum):
    """A saved card's ``pg_status``; ``UNKNOWN`` keeps other words in ``status_text``."""

    APPROVED = "approved"
    SUCCESS = "success"
    DELETED = "deleted"
    UNKNOWN = "unknown"


@attrs.frozen(slots=True)
class CardForm:
    """The hosted card form: send the payer to ``redirect_url`` (never followed here)."""

    order_id: str | None
    payment_id: int | None
    redirect_url: str
    raw: GatewayResponse = attrs.field(repr=False)


@attrs.frozen(slots=True, repr=False)
class SavedCard:
    """One saved card of a user. ``card_hash`` is the masked number the gateway shows."""

    card_token: str
    state: CardState
    status_text: str
    card_id: int | None
    card_hash: str | None
    masked_hash: str | None
    recurring_profile_id: str | None
    created_at: datetime | None
    is_filled: bool | None
    bank: str | None
    brand: str | None
    expiry_month: str | None
    expiry_year: str | None
    fields: Mapping[str, Any]

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], zone: tzinfo = GATEWAY_TIMEZONE) -> SavedCard:
        word = fields.get("pg_status")
        return cls(
            card_token=str(fields.get("pg_card_token") or ""),
            state=CardState(word),
            status_text=word if isinstance(word, str) else "",
            card_id=to_int(fields.get("pg_card_id")),
            card_hash=to_text(fields.get("pg_card_hash")),
            masked_hash=to_text(fields.get("pg_card_hhash")),
            recurring_profile_id=to_text(fields.get("pg_recurring_profile_id")),
            created_at=to_datetime(fields.get("created_at"), zone),
            is_filled=to_bool(fields.get("pg_is_filled")),
            bank=to_text(fields.get("bank_alias")),
            brand=to_text(fields.get("brand_alias")),
            expiry_month=to_text(fields.get("expiry_month")),
            expiry_year=to_text(fields.get("expiry_year")),
            fields=fields,
        )

    def __repr__(self) -> str:
        return mask_card_numbers(
            f"SavedCard(card_token={self.card_token!r}, state={self.state.name}, "
            f"card_hash={self.card_hash!r})"
        )


@attrs.frozen(slots=True)
class RemovedCard:
    """The gateway's answer to removing a card (both documented answer shapes)."""

    card_token: str
    state: CardState
    deleted_at: datetime | None
    raw: GatewayResponse = attrs.field(repr=False)

    @classmethod
    def from_answer(cls, answer: GatewayResponse, card_token: str) -> RemovedCard:
        # Gateway API shape: pg_status/deleted_at at the root; Merchant API: a <card> child.
        card = items(answer.fields, "card")
        fields = card[0] if card else answer.fields
        return cls(
            str(fields.get("pg_card_token") or card_token),
            CardState(fields.get("pg_status")),
            to_datetime(fields.get("deleted_at"), answer.timezone),
            answer,
        )


@attrs.frozen(slots=True)
class CardPayment:
    """A payment created for a saved card; nothing is charged yet.

    Next: :meth:`Cards.cvc_page` (the payer types the CVC) or :meth:`Cards.charge`.
    """

    order_id: str
    payment_id: int
    raw: GatewayResponse = attrs.field(repr=False)
    #: The amount the payment was created for.
    amount: Decimal | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class CvcPage:
    """The page where the payer types the CVC: serve ``html`` or redirect to ``redirect_url``.

    Seed 002 documents a third answer, signed XML ``ok``: the gateway took the payment without a
    page; then ``accepted`` is true, ``html`` and ``redirect_url`` are None, and ``order_id``
    is the answer's. The outcome arrives at the payment's ``result_url`` and through the
    payment status in every case.
    """

    payment_id: int
    html: str | None = attrs.field(repr=False)
    redirect_url: str | None
    answer: PageAnswer = attrs.field(repr=False)
    accepted: bool = False
    order_id: str | None = None


class Cards:
    """Saved cards of one client (``client.cards``), Merchant API."""

    _ADD = declared("v1/merchant/{merchant_id}/cardstorage/add")
    _LIST: ClassVar[Mapping[bool, Endpoint]] = {
        False: declared("v1/merchant/{merchant_id}/cardstorage/list"),
        True: declared("v1/merchant/{merchant_id}/cardstoragepayout/list"),
    }
    _REMOVE: ClassVar[Mapping[bool, Endpoint]] = {
        False: declared("v1/merchant/{merchant_id}/cardstorage/remove"),
        True: declared("v1/merchant/{merchant_id}/cardstoragepayout/remove"),
    }
    _INIT = declared("v1/merchant/{merchant_id}/card/init")
    _PAY = declared("v1/merchant/{merchant_id}/card/pay")
    _DIRECT = declared("v1/merchant/{merchant_id}/card/direct")

    def __init__(
        self,
        client: Caller,
        payments: Payments,
        payout_storage: PayoutCardStorage = PayoutCardStorage.DOCUMENTED,
    ) -> None:
        self._client = client
        self._payments = payments
        self._add_for_payouts = payout_storage.endpoint()

    async def add(
        self, *, user_id: str, post_link: str, back_link: str, order_id: str | None = None
    ) -> CardForm:
        """Start saving a card for payments: returns the hosted card form.

        The payer types the card there (3-D Secure if enrolled; a small amount is held and
        released); the saved card's token arrives at ``post_link``.
        """
        return await self._open_form(self._ADD, user_id, post_link, back_link, order_id)

    async def add_for_payouts(
        self, *, user_id: str, post_link: str, back_link: str, order_id: str | None = None
    ) -> CardForm:
        """Start saving a card to pay out to (``client.payouts.to_token``).

        Path, script and key follow the client's ``payout_card_storage`` (see
        :class:`PayoutCardStorage`).
        """
        return await self._open_form(self._add_for_payouts, user_id, post_link, back_link, order_id)

    async def list(
        self, user_id: str, *, for_payouts: bool = False, extended: bool = False
    ) -> tuple[SavedCard, ...]:
        """The user's saved cards; ``extended`` adds bank, brand and expiry."""
        endpoint = self._LIST[for_payouts]
        params = endpoint.encode(pg_user_id=user_id, pg_extend_data=True if extended else None)
        answer = await self._client.call(endpoint, params)
        return tuple(
            SavedCard.from_fields(card, answer.timezone) for card in items(answer.fields, "card")
        )

    async def remove(
        self, user_id: str, *, card_token: str, for_payouts: bool = False
    ) -> RemovedCard:
        """Remove a saved card. Removing twice is harmless; so a lost answer is asked again."""
        endpoint = self._REMOVE[for_payouts]
        params = endpoint.encode(pg_user_id=user_id, pg_card_token=card_token)
        return RemovedCard.from_answer(await self._client.call(endpoint, params), card_token)

    async def status(self, payment_id: int) -> Payment:
        """The state of a card-saving operation or a card payment (``get_status3.php``)."""
        return await self._payments.status(payment_id)

    async def create_payment(
        self,
        *,
        order_id: str,
        amount: Decimal | str,
        description: str,
        user_id: str,
        card_token: str,
        result_url: str | None = None,
        success_url: str | None = None,
        failure_url: str | None = None,
        user_phone: str | None = None,
        user_email: str | None = None,
        user_ip: str | None = None,
        receipt: Sequence[ReceiptPosition] | None = None,
        extra_params: Sequence[str] = (),
        loyalty_id: int | None = None,
        loyalty_amount: Decimal | str | int | None = None,
        freedom_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> CardPayment:
        """Create a payment for the user's saved card (``card/init``); nothing is charged yet.

        ``loyalty_id`` / ``loyalty_amount`` accrue loyalty units, ``freedom_id`` names the user
        in the Freedom ecosystem. Carries an idempotency key (derived from the order id and the
        request's content unless given), so a lost answer is safely asked again.
        """
        params = self._INIT.encode(
            pg_order_id=order_id,
            pg_amount=amount,
            pg_description=description,
            pg_user_id=user_id,
            pg_card_token=card_token,
            pg_user_email=user_email,
            pg_loyalty_id=loyalty_id,
            pg_loyalty_amount=loyalty_amount,
            pg_freedom_id=freedom_id,
            **payer_fields(
                user_phone=user_phone,
                user_ip=user_ip,
                result_url=result_url,
                success_url=success_url,
                failure_url=failure_url,
                receipt=receipt,
                extra_params=extra_params,
            ),
        )
        answer = await self._client.call(self._INIT, params, idempotency_key=idempotency_key)
        payment_id = to_int(answer.get("pg_payment_id"))
        if payment_id is None:
            raise ProtocolError("card/init answer has no pg_payment_id", raw=answer.raw)
        return CardPayment(order_id, payment_id, answer, amount=Decimal(str(params["pg_amount"])))

    async def cvc_page(self, payment_id: int) -> CvcPage:
        """The page where the payer confirms the payment with the CVC (``card/pay``).

        The gateway answers with an HTML page or a redirect, returned as they are (never
        rendered or followed): serve the page to the payer or redirect them. A signed XML ``ok``
        (seed 002) comes back with ``accepted=True``; a signed error raises its GatewayError.
        """
        params = self._PAY.encode(pg_payment_id=payment_id)
        page = await self._client.call_page(self._PAY, params)
        if page.answer is None:
            return CvcPage(payment_id, page.html, page.location, page)
        if page.answer.status != "ok":
            raise ProtocolError("card/pay answered XML that is neither ok nor error", raw=page.body)
        return CvcPage(
            to_int(page.answer.get("pg_payment_id")) or payment_id,
            None,
            None,
            page,
            accepted=True,
            order_id=to_text(page.answer.get("pg_order_id")),
        )

    async def charge(self, payment_id: CardPayment | int) -> Payment:
        """Charge a created card payment without the payer (``card/direct``).

        Given the :class:`CardPayment` (rather than its id) the result carries its order id
        and amount where the answer does not. ``process`` is not final:
        ``client.payments.wait(payment_id)``. A lost answer is resolved through the payment's
        status; never sent twice.
        """
        created = payment_id if isinstance(payment_id, CardPayment) else None
        number = payment_id.payment_id if isinstance(payment_id, CardPayment) else payment_id
        params = self._DIRECT.encode(pg_payment_id=number)

        async def attempt() -> Payment:
            answer = await self._client.call(self._DIRECT, params)
            if created is None:
                return Payment.from_answer(answer)
            return Payment.from_answer(answer, created.order_id, created.amount)

        async def charged() -> Payment | None:
            current = await self._payments.status(number)
            return None if current.state is PaymentState.NEW else current

        return await settle(attempt(), charged, endpoint=self._DIRECT, payment_id=number)

    async def _open_form(
        self,
        endpoint: Endpoint,
        user_id: str,
        post_link: str,
        back_link: str,
        order_id: str | None,
    ) -> CardForm:
        params = endpoint.encode(
            pg_user_id=user_id, pg_post_link=post_link, pg_back_link=back_link, pg_order_id=order_id
        )
        answer = await self._client.call(endpoint, params)
        redirect = to_text(answer.get("pg_redirect_url"))
        if redirect is None:
            raise ProtocolError("card storage answer has no pg_redirect_url", raw=answer.raw)
        return CardForm(
            to_text(answer.get("pg_order_id")) or order_id,
            to_int(answer.get("pg_payment_id")),
            redirect,
            answer,
        )
