"""The emulated gateway's protocol: checks, state changes and answers, free of HTTP.

:meth:`Gateway.handle` takes a received form and returns an :class:`Answer`. It runs
synchronously, so one request's checks and state changes are atomic with respect to others.
Check order follows the gateway's: merchant (unknown -> unsigned 9998), signature (100), the
idempotency key, then the endpoint's fields (110 naming the field) and business rules.

Payouts live here; payments (acquiring, mobile balance, tokens, card-token payments) in
:mod:`._payments`, saved cards in :mod:`._cards`; shared checks and error codes in
:mod:`._protocol`.

Choices for payouts where the documentation is silent (``shared/api/payouts.md``), made here
once:

* unknown order on every status endpoint: signed ``pg_status=error`` with code 11068
  "Payment not found." (not ``pg_payment_id=0``), so a client can trust a not-found;
* a second create with a known ``pg_order_id``: error :attr:`ErrorCode.ORDER_EXISTS`, nothing
  is created, the payout's ``create_requests`` goes up (with ``refuse_duplicate_orders=False``
  it is paid again and answered as the first);
* insufficient balance: error :attr:`ErrorCode.INSUFFICIENT_BALANCE`, nothing is created;
* an idempotency key reused with other parameters: :attr:`ErrorCode.IDEMPOTENCY_CONFLICT`;
  a request refused before anything was done (invalid field, unknown card) leaves its key
  unused, so the corrected request may carry the same key;
* a failed payout's ``payout_status2`` / ``api/payment_status2`` answer carries the decline's
  ``pg_error_code`` / ``pg_error_description``, as its notification does (``payout_status``
  v1 does not: there ``pg_status=error`` with a code means the request failed);
* a payout's amount leaves the balance when it is accepted (``ok`` or ``process``) and comes
  back if a ``process`` payout ends in ``error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeAlias

import attrs

from .._endpoints import endpoint_for_path
from .._masking import mask_pan
from ..signing import verify
from ._cards import PAYOUT_CARD_SAVE_PATHS, CardDesk
from ._notifier import Notifier
from ._payments import MOBILE_PROCESS_PHONE, MOBILE_TEST_CODE, MOBILE_TEST_PHONE, PaymentDesk
from ._protocol import (
    Answer,
    EmulatorSettings,
    ErrorCode,
    Fields,
    Route,
    _amount,
    _error,
    _money,
    _refuse,
    _Refused,
    _required,
)
from ._rules import RuleBook
from ._state import LOCAL_ZONE, GatewayState, Payout, PayoutStatus, now_text

__all__ = [
    "MOBILE_PROCESS_PHONE",
    "MOBILE_TEST_CODE",
    "MOBILE_TEST_PHONE",
    "SERVED_PATHS",
    "Answer",
    "EmulatorSettings",
    "ErrorCode",
    "Gateway",
    "Route",
]

#: What makes two requests "the same parameters": the path and the fields but salt and sig.
_Fingerprint: TypeAlias = tuple[str, tuple[tuple[str, str], ...]]


#: Where the emulated payout page claims to live (a reserved, never-resolving host).
PAYOUT_PAGE_URL = "https://freedompay-emulator.invalid/payout-page"

#: The scripts served, by path: the endpoint table's, plus the documented variant paths of
#: saving a card for payouts (:data:`PAYOUT_CARD_SAVE_PATHS`). Merchant API paths are served
#: with the merchant id in place of ``{merchant_id}``. The scripts the table marks
#: ``idempotency=True`` honour ``pg_idempotency_key``; no other does.
SERVED_PATHS: tuple[str, ...] = (
    "g2g/paymentAcs",
    "g2g/cardstorage/add",
    "g2g/cardstorage/payment_acs",
    "g2g/cardstorage/list",
    "g2g/cardstorage/remove",
    "g2g/p2p2nonreg",
    "g2g/reg2reg",
    "g2g/to_iban",
    "g2g/payout_status",
    "g2g/payout_status2",
    "g2g/balance_status",
    "api/reg2reg",
    "api/reg2nonreg",
    "api/payment_status2",
    "api/payment_status",
    "api/to_iban",
    "api/balance_status",
    "init_payment.php",
    "get_status2.php",
    "get_status3.php",
    "cancel.php",
    "do_capture.php",
    "revoke.php",
    "make_recurring_payment.php",
    "mfs/pay",
    "mfs/approve",
    "mfs/resend_code",
    "g2g/payment",
    "g2g/status_v2",
    "v1/merchant/{merchant_id}/cardstorage/add",
    "v1/merchant/{merchant_id}/cardstorage/list",
    "v1/merchant/{merchant_id}/cardstorage/remove",
    *PAYOUT_CARD_SAVE_PATHS,
    "v1/merchant/{merchant_id}/cardstoragepayout/list",
    "v1/merchant/{merchant_id}/cardstoragepayout/remove",
    "v1/merchant/{merchant_id}/card/init",
    "v1/merchant/{merchant_id}/card/pay",
    "v1/merchant/{merchant_id}/card/direct",
)


class Gateway:
    """The protocol logic behind every served script."""

    def __init__(
        self, settings: EmulatorSettings, state: GatewayState, rules: RuleBook, notifier: Notifier
    ) -> None:
        self.settings = settings
        self.state = state
        self.rules = rules
        self.notifier = notifier
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._idempotency: dict[str, tuple[_Fingerprint, Answer]] = {}
        self.payments = PaymentDesk(settings, state, rules, notifier)
        self.cards = CardDesk(settings, state, notifier)
        handlers: dict[str, Callable[[Fields], Answer]] = {
            "g2g/p2p2nonreg": self._to_card,
            "g2g/reg2reg": self._to_token_gateway,
            "g2g/to_iban": self._to_iban,
            "g2g/payout_status": self._status_v1,
            "g2g/payout_status2": self._status_v2,
            "g2g/balance_status": self._balance,
            "api/reg2reg": self._to_token_merchant,
            "api/reg2nonreg": self._payout_page,
            "api/payment_status2": self._status_v2,
            "api/payment_status": self._status_by_payment,
            "api/to_iban": self._to_iban_merchant,
            "api/balance_status": self._balance,
            **self.payments.handlers,
            **self.cards.handlers,
        }
        self.routes: dict[str, Route] = {}
        for path in SERVED_PATHS:
            if path in PAYOUT_CARD_SAVE_PATHS:
                self.routes[path] = self.cards.payout_save_route(path, self._root(path))
                continue
            endpoint = endpoint_for_path(path)
            assert endpoint is not None, f"{path} missing from the endpoint table"
            self.routes[path] = Route(
                endpoint, settings.key(endpoint), self._root(path), handlers[path]
            )

    def _root(self, path: str) -> str:
        """The answer root of a script (``shared/api``: ``root`` for api/* and mfs/*)."""
        if path.startswith("api/"):
            return self.settings.api_root
        if path.startswith("mfs/"):
            return self.settings.mfs_root
        return "response"

    # -- entry point -------------------------------------------------------------------------

    def handle(
        self,
        route: Route,
        fields: Fields,
        pairs: Iterable[tuple[str, str]],
        path_merchant: str | None = None,
    ) -> Answer:
        """Check and execute one request; ``fields`` is ``pairs`` parsed PHP-style.

        ``path_merchant`` is the merchant id in a Merchant API path (``v1/merchant/{id}/...``);
        it must be the merchant's, like ``pg_merchant_id``.
        """
        LOCAL_ZONE.set(self.settings.timezone)  # the dates this request writes
        merchant_id = self.settings.merchant_id
        if fields.get("pg_merchant_id") != merchant_id or path_merchant not in (None, merchant_id):
            return Answer(
                _error(ErrorCode.UNKNOWN_MERCHANT, "Merchant is not identified").fields,
                signed=False,
            )
        if not verify(route.endpoint.script, fields, route.key):
            return self._bad_signature(route, fields)
        key = fields.get("pg_idempotency_key") if route.endpoint.idempotency else None
        if not isinstance(key, str) or not key:
            return self._run(route, fields)
        fingerprint = (
            route.endpoint.path,
            tuple(sorted(pair for pair in pairs if pair[0] not in _UNSIGNED)),
        )
        remembered = self._idempotency.get(key)
        if remembered is not None:
            if remembered[0] == fingerprint:
                return remembered[1]
            return _error(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "pg_idempotency_key was already used with other parameters",
            )
        try:
            answer = route.handler(fields)
        except _Refused as refused:
            # Refused before anything was done: the corrected request may use the key.
            return refused.answer
        self._idempotency[key] = (fingerprint, answer)
        return answer

    def _bad_signature(self, route: Route, fields: Fields) -> Answer:
        for script, key in route.alternates:
            if verify(script, fields, key):
                # Signed another documented way: refuse, readable by the sender.
                return attrs.evolve(
                    _error(
                        ErrorCode.BAD_SIGNATURE,
                        f"Invalid signature (pg_sig): {self.cards.expected}",
                    ),
                    sign_as=(script, key),
                )
        return _error(ErrorCode.BAD_SIGNATURE, "Invalid signature (pg_sig)")

    def _run(self, route: Route, fields: Fields) -> Answer:
        try:
            return route.handler(fields)
        except _Refused as refused:
            return refused.answer

    def close(self) -> None:
        """Stop the timers of ``process`` payouts and payments (the emulator is shutting down)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.payments.close()

    # -- payouts -----------------------------------------------------------------------------

    def _to_card(self, fields: Fields) -> Answer:
        order_id, amount, post_link = self._payout_basics(fields)
        pan = _required(fields, "pg_payment_to")
        if not (pan.isdigit() and 13 <= len(pan) <= 20):
            raise _refuse(ErrorCode.INVALID_PARAMETER, "Invalid parameter pg_payment_to")
        payout = self._create("g2g/p2p2nonreg", order_id, amount, post_link, fields, card=pan)
        return self._created(payout)

    def _to_token_gateway(self, fields: Fields) -> Answer:
        return self._to_token("g2g/reg2reg", fields)

    def _to_token_merchant(self, fields: Fields) -> Answer:
        return self._to_token("api/reg2reg", fields)

    def _to_token(self, path: str, fields: Fields) -> Answer:
        order_id, amount, post_link = self._payout_basics(fields)
        user_id = _required(fields, "pg_user_id")
        _required(fields, "pg_order_time_limit")
        token, card_id = fields.get("pg_card_token_to"), fields.get("pg_card_id_to")
        if not token and not card_id:
            raise _refuse(
                ErrorCode.INVALID_PARAMETER, "Missing required parameter pg_card_token_to"
            )
        card = self.state.find_card(
            user_id,
            token if isinstance(token, str) and token else None,
            card_id if isinstance(card_id, str) else None,
            "payout",  # a card saved for payments is not a payout destination
        )
        if card is None:
            name = "pg_card_token_to" if token else "pg_card_id_to"
            raise _refuse(
                ErrorCode.INVALID_PARAMETER,
                f"Invalid parameter {name}: no such card for pg_user_id",
            )
        payout = self._create(path, order_id, amount, post_link, fields, card=card.pan)
        payout.card_token, payout.user_id = card.token, user_id
        answer = self._created(payout)
        if path.startswith("g2g/"):
            answer.fields["pg_card_token"] = card.token
            answer.fields.setdefault("pg_error_code", "0")
            answer.fields.setdefault("pg_error_description", "")
        else:
            answer.fields["pg_card_id"] = str(card.card_id)
        return answer

    def _payout_page(self, fields: Fields) -> Answer:
        """``api/reg2nonreg``: a hosted page where the recipient types their card.

        The emulator has no page to fill in: the payout is created at once and its rule decides
        the outcome as if the recipient had submitted the page (``Rule.process`` models one who
        takes time). The answer only says the page exists and where it is.
        """
        order_id, amount, post_link = self._payout_basics(fields)
        _required(fields, "pg_order_time_limit")
        _required(fields, "pg_back_link")
        payout = self._create("api/reg2nonreg", order_id, amount, post_link, fields)
        return Answer(
            {
                "pg_status": "ok",
                "pg_payment_id": str(payout.payment_id),
                "pg_merchant_id": self.settings.merchant_id,
                "pg_redirect_url": f"{PAYOUT_PAGE_URL}?pg_payment_id={payout.payment_id}",
            }
        )

    def _to_iban(self, fields: Fields) -> Answer:
        return self._iban("g2g/to_iban", fields)

    def _to_iban_merchant(self, fields: Fields) -> Answer:
        return self._iban("api/to_iban", fields)

    def _iban(self, path: str, fields: Fields) -> Answer:
        order_id, amount, post_link = self._payout_basics(fields)
        for name in _IBAN_FIELDS:
            _required(fields, name)
        return self._created(self._create(path, order_id, amount, post_link, fields))

    def _payout_basics(self, fields: Fields) -> tuple[str, Decimal, str]:
        order_id = _required(fields, "pg_order_id")
        amount = _amount(fields)
        _required(fields, "pg_description")
        return order_id, amount, _required(fields, "pg_post_link")

    def _create(
        self,
        path: str,
        order_id: str,
        amount: Decimal,
        post_link: str,
        fields: Fields,
        *,
        card: str | None = None,
    ) -> Payout:
        state = self.state
        existing = state.payouts.get(order_id)
        if existing is not None:
            existing.create_requests += 1
            if self.settings.refuse_duplicate_orders:
                raise _refuse(ErrorCode.ORDER_EXISTS, f"Order {order_id} already exists")
            state.balance -= amount  # paid again
            return existing
        rule = self.rules.resolve(order_id, amount, card)
        if rule.outcome != "error" and amount > state.balance:
            raise _refuse(ErrorCode.INSUFFICIENT_BALANCE, "Insufficient balance for the payout")
        currency = fields.get("pg_currency")
        payout = Payout(
            order_id,
            state.next_payment_id(),
            path,
            amount,
            currency if isinstance(currency, str) and currency else self.settings.currency,
            "process",
            rule,
            post_link,
            card_hash=None if card is None else mask_pan(card),  # stored masked
        )
        state.payouts[order_id] = payout
        if rule.outcome == "error":
            self._finish(payout, "error")
            return payout
        state.balance -= amount
        if rule.outcome == "ok":
            self._finish(payout, "success")
        elif rule.seconds is not None:
            loop = asyncio.get_running_loop()
            self._timers[order_id] = loop.call_later(rule.seconds, self._settle, payout)
        return payout

    def _created(self, payout: Payout) -> Answer:
        common = {
            "pg_payment_id": str(payout.payment_id),
            "pg_merchant_id": self.settings.merchant_id,
            "pg_order_id": payout.order_id,
        }
        if payout.status == "error":
            return _error(payout.error_code or 0, payout.error_description, **common)
        fields = {"pg_status": "ok" if payout.status == "success" else "process", **common}
        fields["pg_balance"] = _money(self.state.balance)
        fields["pg_payment_amount"] = _money(payout.amount)
        fields["pg_payment_date"] = payout.created_at
        fields["pg_reference"] = str(payout.payment_id)
        if payout.card_hash is not None:
            fields["pg_card_hash"] = payout.card_hash
        fields["pg_datetime"] = now_text()
        return Answer(fields)

    def _settle(self, payout: Payout) -> None:
        """A ``process`` payout reaches its rule's final state."""
        if payout.status != "process":
            return
        timer = self._timers.pop(payout.order_id, None)
        if timer is not None:
            timer.cancel()
        if payout.rule.then == "error":
            self.state.balance += payout.amount
        self._finish(payout, "success" if payout.rule.then == "ok" else "error")

    def _finish(self, payout: Payout, status: PayoutStatus) -> None:
        payout.status = status
        payout.finished_at = now_text()
        notice = {
            "pg_payment_id": str(payout.payment_id),
            "pg_merchant_id": self.settings.merchant_id,
            "pg_order_id": payout.order_id,
            "pg_status": "ok" if status == "success" else "error",
        }
        if payout.card_hash is not None:
            notice["pg_card_hash"] = payout.card_hash
        notice["pg_balance"] = _money(self.state.balance)
        notice["pg_payment_amount"] = _money(payout.amount)
        notice["pg_payment_date"] = payout.finished_at
        if status == "error":
            payout.error_code = payout.rule.error_code
            payout.error_description = payout.rule.description
            notice["pg_error_code"] = str(int(payout.error_code))  # type: ignore[arg-type]
            notice["pg_error_description"] = payout.error_description
        self.notifier.send(payout.post_link, payout.order_id, notice, self.settings.payout_key)

    # -- status and balance ------------------------------------------------------------------

    def _polled(self, fields: Fields) -> tuple[Payout, PayoutStatus]:
        """The payout asked about and its state as this poll sees it (counts the poll)."""
        order_id = _required(fields, "pg_order_id")
        payout = self.state.payouts.get(order_id)
        payment_id = fields.get("pg_payment_id")
        if payout is None or (payment_id and payment_id != str(payout.payment_id)):
            raise _refuse(ErrorCode.PAYMENT_NOT_FOUND, "Payment not found.")
        status = payout.status
        if status == "process":
            payout.polls += 1
            if payout.rule.polls is not None and payout.polls >= payout.rule.polls:
                self._settle(payout)
        return payout, status

    def _status_v1(self, fields: Fields) -> Answer:
        payout, status = self._polled(fields)
        answer = {
            "pg_status": status,
            "pg_payment_id": str(payout.payment_id),
            "pg_merchant_id": self.settings.merchant_id,
            "pg_order_id": payout.order_id,
            "pg_amount": _money(payout.amount),
            "pg_datetime": now_text(),
        }
        # No decline code here: v1's pg_status=error with a code reads as a failed request.
        return Answer(answer)

    def _status_v2(self, fields: Fields) -> Answer:
        payout, status = self._polled(fields)
        answer = {
            "pg_status": "ok",
            "pg_payment_status": status,
            "pg_payment_id": str(payout.payment_id),
            "pg_merchant_id": self.settings.merchant_id,
            "pg_order_id": payout.order_id,
            "pg_amount": _money(payout.amount),
            "pg_net_amount": _money(payout.amount),
            "pg_datetime": now_text(),
        }
        return Answer(_with_decline(answer, payout, status))

    def _status_by_payment(self, fields: Fields) -> Answer:
        """``api/payment_status``: the payout by ``pg_payment_id`` (the order id optional),
        answered like ``payment_status2`` (the docs give no answer; a choice)."""
        payment_id = _required(fields, "pg_payment_id")
        payout = next(
            (p for p in self.state.payouts.values() if str(p.payment_id) == payment_id), None
        )
        order_id = fields.get("pg_order_id")
        if payout is None or (order_id and order_id != payout.order_id):
            raise _refuse(ErrorCode.PAYMENT_NOT_FOUND, "Payment not found.")
        return self._status_v2({**fields, "pg_order_id": payout.order_id})

    def _balance(self, fields: Fields) -> Answer:
        currency = fields.get("pg_currency")
        return Answer(
            {
                "pg_status": "ok",
                "pg_balance": _money(self.state.balance),
                "pg_currency": currency
                if isinstance(currency, str) and currency
                else self.settings.currency,
            }
        )


def _with_decline(answer: dict[str, str], payout: Payout, status: PayoutStatus) -> dict[str, str]:
    """A status answer, with the decline's code and description when the payout failed."""
    if status == "error" and payout.error_code is not None:
        answer["pg_error_code"] = str(int(payout.error_code))
        answer["pg_error_description"] = payout.error_description
    return answer


_UNSIGNED = frozenset({"pg_salt", "pg_sig"})
_IBAN_FIELDS = (
    "pg_recipient_iban",
    "pg_recipient_iin",
    "pg_recipient_name",
    "pg_recipient_kbe",
    "pg_knp",
    "pg_bank_bik",
)
