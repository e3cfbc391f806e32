"""The emulated gateway's memory: payouts, the merchant balance, saved cards, payments.

Plain synchronous data. Every change happens inside one request handler step without an
``await`` in between, so concurrent requests never see half-made changes and need no locks.
Card numbers are kept only masked, as the gateway shows them, except inside the vault (a
saved :class:`CardToken` and a :class:`RecurringProfile`, which is what they are); there the
number never shows in a repr. Every lookup a request needs is a dict lookup.

A payment's state (:attr:`Payment.status`) in the emulator's vocabulary, which is what
``get_status3.php`` and ``g2g/status_v2`` answer as ``pg_payment_status`` (the gateway
documents only ``success`` there):

* ``new``: created, not paid yet (nothing charged);
* ``process``: in progress (the payer is on the page, a one-time code or 3-D Secure is
  awaited, the bank has not answered yet);
* ``success``: paid (one-step: captured; two-step: held until ``do_capture.php``);
* ``error``: failed (declined, refused by the merchant's check, expired);
* ``revoked``: a held two-step payment cancelled by ``cancel.php``;
* ``refunded``: refunded in full (a partial refund leaves ``success``).
"""

from __future__ import annotations

import datetime
import itertools
import time
import uuid
from contextvars import ContextVar
from decimal import Decimal
from typing import Literal, TypeAlias

import attrs

from .._convert import GATEWAY_TIMEZONE
from .._masking import mask_pan
from ._rules import Rule

__all__ = [
    "LOCAL_ZONE",
    "Awaiting",
    "CardPurpose",
    "CardSave",
    "CardToken",
    "GatewayState",
    "Payment",
    "PaymentMethod",
    "PaymentStatus",
    "Payout",
    "PayoutStatus",
    "RecurringProfile",
    "Refund",
    "now_iso",
    "now_text",
]

#: A payout's state in the vocabulary of the status endpoints.
PayoutStatus: TypeAlias = Literal["success", "error", "process"]
#: A payment's state (see the module docstring).
PaymentStatus: TypeAlias = Literal["new", "process", "success", "error", "revoked", "refunded"]
#: How a payment is paid (``pg_payment_method``; ``card_token`` for a saved card).
PaymentMethod: TypeAlias = Literal[
    "bankcard", "mobile_commerce", "apple_pay", "google_pay", "card_token"
]
#: What a ``process`` payment waits for: the merchant's check answer, the payer's one-time
#: code (mobile balance), 3-D Secure (wallet payment with ECI 07).
Awaiting: TypeAlias = Literal["check", "approval", "3ds"]
#: A saved card is usable for payments or for payouts, never both.
CardPurpose: TypeAlias = Literal["payment", "payout"]


#: The emulated gateway's local time zone (its region's), set for each request it handles;
#: timers and notifications started from a request inherit it.
LOCAL_ZONE: ContextVar[datetime.tzinfo] = ContextVar("gateway_local_zone", default=GATEWAY_TIMEZONE)


def now_text() -> str:
    """The gateway's date format (``2024-01-31 15:00:00``), in the gateway's local time."""
    return datetime.datetime.now(LOCAL_ZONE.get()).strftime("%Y-%m-%d %H:%M:%S")


def now_iso() -> str:
    """ISO-8601 with the UTC offset (``2024-01-31T15:00:00+05:00``), as ``pg_datetime``."""
    return datetime.datetime.now(LOCAL_ZONE.get()).isoformat(timespec="seconds")


def _expiry_year() -> str:
    return f"{(datetime.date.today().year + 3) % 100:02d}"


@attrs.define(slots=True)
class Payout:
    """One payout, keyed by its ``pg_order_id``.

    ``create_requests`` counts the create calls for this order id that reached processing: 1
    means it was sent once; a re-send is refused as a duplicate but still counted, so a test
    can assert that a client never re-sent a payout blindly.
    """

    order_id: str
    payment_id: int
    endpoint: str
    amount: Decimal
    currency: str
    status: PayoutStatus
    rule: Rule
    post_link: str
    card_hash: str | None = None
    card_token: str | None = None
    user_id: str | None = None
    error_code: int | None = None
    error_description: str = ""
    created_at: str = attrs.field(factory=now_text)
    #: When it was created, on the event loop's clock (status lag faults count from it).
    created_monotonic: float = attrs.field(factory=time.monotonic)
    finished_at: str | None = None
    polls: int = 0
    create_requests: int = 1


@attrs.define(slots=True)
class CardToken:
    """A saved card of ``user_id``, for payments or for payouts; the PAN never shows in reprs."""

    token: str
    card_id: int
    user_id: str
    pan: str = attrs.field(repr=False)
    purpose: CardPurpose = "payout"
    expiry_month: str = "12"
    expiry_year: str = attrs.field(factory=_expiry_year)
    created_at: str = attrs.field(factory=now_text)
    recurring_profile_id: str = ""

    @property
    def card_hash(self) -> str:
        """The card as the gateway shows it (``440564******6150``)."""
        return mask_pan(self.pan)


@attrs.define(slots=True)
class CardSave:
    """A card-saving session opened by ``cardstorage/add`` (or its payout twin)."""

    payment_id: int
    user_id: str
    purpose: CardPurpose
    order_id: str
    post_link: str
    back_link: str
    status: Literal["new", "success", "error"] = "new"
    token: str | None = None
    created_at: str = attrs.field(factory=now_text)


@attrs.define(slots=True)
class Refund:
    """One refund of a payment: its own payment id, amount and date."""

    payment_id: int
    amount: Decimal
    date: str = attrs.field(factory=now_text)
    status: str = "success"


@attrs.define(slots=True)
class RecurringProfile:
    """A recurring profile (``pg_recurring_start=1``); the card number stays out of reprs."""

    profile_id: str
    payment_id: int
    expiry_date: str
    expires_on: datetime.date
    pan: str | None = attrs.field(default=None, repr=False)


@attrs.define(slots=True)
class Payment:
    """A payment (acquiring): created by ``init_payment.php``, ``g2g/payment``, ``card/init``
    or ``make_recurring_payment.php``.

    ``card_pan`` is masked. ``merchant_fields`` are the non-``pg_`` fields the merchant sent at
    creation (echoed in the Check and Result callbacks). ``create_requests`` counts refused
    creates for the same order id on top of the one that created it. ``rule`` and ``polls``
    drive a ``process`` payment to its final state, as for payouts.
    """

    payment_id: int
    order_id: str
    amount: Decimal
    description: str
    currency: str = "KZT"
    method: PaymentMethod = "bankcard"
    endpoint: str = "init_payment.php"
    status: PaymentStatus = "new"
    auto_clearing: bool = True
    captured: bool = False
    clearing_amount: Decimal | None = None
    refunds: list[Refund] = attrs.field(factory=list)
    recurring_start: bool = False
    recurring_lifetime: int | None = None
    recurring_profile_id: str | None = None
    check_url: str | None = None
    result_url: str | None = None
    success_url: str | None = None
    failure_url: str | None = None
    user_id: str | None = None
    user_phone: str | None = None
    user_email: str | None = None
    testing_mode: bool = False
    card_pan: str | None = None
    card_token: str | None = None
    failure_code: int | None = None
    failure_description: str = ""
    created_at: str = attrs.field(factory=now_text)
    paid_at: str | None = None
    merchant_fields: dict[str, str] = attrs.field(factory=dict)
    can_reject: bool = False
    expires_at: float | None = None
    awaiting: Awaiting | None = None
    abonent_phone: str | None = None
    payment_system: str | None = None
    code_resends: int = 0
    auth_code: str | None = None
    reference: str | None = None
    rule: Rule | None = None
    polls: int = 0
    create_requests: int = 1

    @property
    def refunded_amount(self) -> Decimal:
        """The total refunded so far."""
        return sum((refund.amount for refund in self.refunds), Decimal(0))

    @property
    def held(self) -> bool:
        """A two-step payment authorised and neither captured nor cancelled."""
        return self.status == "success" and not self.auto_clearing and not self.captured


@attrs.define(slots=True)
class GatewayState:
    """Everything the emulator remembers between requests, indexed for dict lookups."""

    balance: Decimal
    payouts: dict[str, Payout] = attrs.field(factory=dict)
    cards: dict[str, CardToken] = attrs.field(factory=dict)
    cards_by_id: dict[int, CardToken] = attrs.field(factory=dict)
    user_cards: dict[tuple[CardPurpose, str], dict[str, CardToken]] = attrs.field(factory=dict)
    card_saves: dict[int, CardSave] = attrs.field(factory=dict)
    payments: dict[int, Payment] = attrs.field(factory=dict)
    payments_by_order: dict[str, list[Payment]] = attrs.field(factory=dict)
    refunds: dict[int, tuple[Payment, Refund]] = attrs.field(factory=dict)
    recurring: dict[str, RecurringProfile] = attrs.field(factory=dict)
    calls: dict[str, int] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(100_000_001))

    def next_payment_id(self) -> int:
        """A fresh gateway transaction id (shared by payouts, payments, refunds, saved cards)."""
        return next(self._ids)

    def count_call(self, endpoint: str) -> int:
        """Record one more call to ``endpoint``; returns its 1-based call number."""
        number = self.calls.get(endpoint, 0) + 1
        self.calls[endpoint] = number
        return number

    def add_payment(self, payment: Payment) -> Payment:
        """Remember a new payment (by id, and by order id when it has one)."""
        self.payments[payment.payment_id] = payment
        if payment.order_id:
            self.payments_by_order.setdefault(payment.order_id, []).append(payment)
        return payment

    def latest_payment(self, order_id: str) -> Payment | None:
        """The most recent payment created with ``order_id``."""
        found = self.payments_by_order.get(order_id)
        return found[-1] if found else None

    def add_refund(self, payment: Payment, amount: Decimal) -> Refund:
        """Record a refund of ``payment`` under its own payment id."""
        refund = Refund(self.next_payment_id(), amount)
        payment.refunds.append(refund)
        self.refunds[refund.payment_id] = (payment, refund)
        return refund

    def save_card(self, user_id: str, pan: str, purpose: CardPurpose = "payout") -> CardToken:
        """Put a card in the vault for ``user_id``, as a completed card-saving flow would."""
        card = CardToken(str(uuid.uuid4()), self.next_payment_id(), user_id, pan, purpose)
        self.cards[card.token] = card
        self.cards_by_id[card.card_id] = card
        self.user_cards.setdefault((purpose, user_id), {})[card.token] = card
        return card

    def remove_card(self, card: CardToken) -> None:
        """Take a card out of the vault."""
        del self.cards[card.token]
        del self.cards_by_id[card.card_id]
        del self.user_cards[card.purpose, card.user_id][card.token]

    def cards_of(self, purpose: CardPurpose, user_id: str) -> list[CardToken]:
        """The saved cards of ``user_id`` for ``purpose``, oldest first."""
        return list(self.user_cards.get((purpose, user_id), {}).values())

    def find_card(
        self,
        user_id: str,
        token: str | None,
        card_id: str | None,
        purpose: CardPurpose = "payout",
    ) -> CardToken | None:
        """The saved card named by token or legacy numeric id, if it is ``user_id``'s card for
        ``purpose``."""
        card: CardToken | None = None
        if token is not None:
            card = self.cards.get(token)
        elif card_id and card_id.isascii() and card_id.isdigit() and len(card_id) <= 18:
            card = self.cards_by_id.get(int(card_id))
        if card is None or card.user_id != user_id or card.purpose != purpose:
            return None
        return card
