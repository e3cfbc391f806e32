"""The emulated gateway's memory: payouts, the merchant balance, saved cards, payments.

Plain synchronous data. Every change happens inside one request handler step without an
``await`` in between, so concurrent requests never see half-made changes and need no locks.
Card numbers are kept only masked, as the gateway shows them, except inside the card vault
(:class:`CardToken`), which is what a saved card is.
"""

from __future__ import annotations

import itertools
import time
import uuid
from decimal import Decimal
from typing import Literal, TypeAlias

import attrs

from .._masking import mask_pan
from ._rules import Rule

__all__ = ["CardToken", "GatewayState", "Payment", "Payout", "PayoutStatus", "now_text"]

#: A payout's state in the vocabulary of the status endpoints.
PayoutStatus: TypeAlias = Literal["success", "error", "process"]


def now_text() -> str:
    """The gateway's date format (``2024-01-31 15:00:00``, local time)."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


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
    finished_at: str | None = None
    polls: int = 0
    create_requests: int = 1


@attrs.define(slots=True)
class CardToken:
    """A card saved for payouts to ``user_id``; the PAN stays in the vault (never in reprs)."""

    token: str
    card_id: int
    user_id: str
    pan: str = attrs.field(repr=False)

    @property
    def card_hash(self) -> str:
        """The card as the gateway shows it (``440564******6150``)."""
        return mask_pan(self.pan)


@attrs.define(slots=True)
class Payment:
    """A payment created by ``init_payment.php`` (kept to exercise idempotency keys)."""

    payment_id: int
    order_id: str
    amount: Decimal
    description: str


@attrs.define(slots=True)
class GatewayState:
    """Everything the emulator remembers between requests."""

    balance: Decimal
    payouts: dict[str, Payout] = attrs.field(factory=dict)
    cards: dict[str, CardToken] = attrs.field(factory=dict)
    payments: dict[int, Payment] = attrs.field(factory=dict)
    calls: dict[str, int] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(100_000_001))

    def next_payment_id(self) -> int:
        """A fresh gateway transaction id (shared by payouts, payments and saved cards)."""
        return next(self._ids)

    def count_call(self, endpoint: str) -> int:
        """Record one more call to ``endpoint``; returns its 1-based call number."""
        number = self.calls.get(endpoint, 0) + 1
        self.calls[endpoint] = number
        return number

    def save_card(self, user_id: str, pan: str) -> CardToken:
        """Put a card in the vault for ``user_id``, as a completed card-saving flow would."""
        card = CardToken(str(uuid.uuid4()), self.next_payment_id(), user_id, pan)
        self.cards[card.token] = card
        return card

    def find_card(self, user_id: str, token: str | None, card_id: str | None) -> CardToken | None:
        """The saved card named by token or legacy numeric id, if it belongs to ``user_id``."""
        if token is not None:
            card = self.cards.get(token)
        else:
            card = next((c for c in self.cards.values() if str(c.card_id) == card_id), None)
        return card if card is not None and card.user_id == user_id else None
