"""Outcome rules: which final state a new payout gets, and when a ``process`` payout settles.

The gateway decides a payout's fate at the bank; the emulator decides it by rule so tests can
ask for every path. Rules match on order id, amount and/or card number (all given selectors
must match). The most recently added rule wins, then the documented payout test cards
(``shared/api/payouts.md`` section 5), then plain success.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, TypeAlias

import attrs

__all__ = ["TEST_CARD_RULES", "Outcome", "Rule", "RuleBook"]

Outcome: TypeAlias = Literal["ok", "error", "process"]
Final: TypeAlias = Literal["ok", "error"]

#: Default description of a failed payout (the gateway's texts are not documented).
_DECLINED = "Payout declined by the issuer"


@attrs.frozen(slots=True)
class Rule:
    """The outcome of matching payouts.

    ``outcome`` is what the create call answers. A ``process`` payout becomes ``then`` (with
    ``error_code`` when that is ``error``) after ``polls`` status calls or ``seconds`` seconds,
    whichever comes first (``None`` disables that trigger).
    """

    outcome: Outcome
    error_code: int | None = None
    description: str = _DECLINED
    then: Final = "ok"
    polls: int | None = 1
    seconds: float | None = None
    order_id: str | None = None
    amount: Decimal | None = None
    card: str | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        failing = self.outcome == "error" or (self.outcome == "process" and self.then == "error")
        if failing and self.error_code is None:
            raise ValueError("a failing rule needs error_code")
        if self.outcome == "process" and self.polls is None and self.seconds is None:
            raise ValueError("a process rule needs polls or seconds, or it never settles")

    @classmethod
    def ok(
        cls, *, order_id: str | None = None, amount: Decimal | None = None, card: str | None = None
    ) -> Rule:
        """Matching payouts succeed at once."""
        return cls("ok", order_id=order_id, amount=amount, card=card)

    @classmethod
    def error(
        cls,
        code: int,
        description: str = _DECLINED,
        *,
        order_id: str | None = None,
        amount: Decimal | None = None,
        card: str | None = None,
    ) -> Rule:
        """Matching payouts fail at once with ``code``."""
        return cls("error", code, description, order_id=order_id, amount=amount, card=card)

    @classmethod
    def process(
        cls,
        *,
        then: Final = "ok",
        error_code: int | None = None,
        description: str = _DECLINED,
        polls: int | None = 1,
        seconds: float | None = None,
        order_id: str | None = None,
        amount: Decimal | None = None,
        card: str | None = None,
    ) -> Rule:
        """Matching payouts answer ``process`` and settle as ``then`` later."""
        return cls(
            "process",
            error_code,
            description,
            then,
            polls,
            seconds,
            order_id=order_id,
            amount=amount,
            card=card,
        )

    def matches(self, order_id: str, amount: Decimal, card: str | None) -> bool:
        """Whether every selector this rule sets equals the payout's value."""
        return (
            (self.order_id is None or self.order_id == order_id)
            and (self.amount is None or self.amount == amount)
            and (self.card is None or self.card == card)
        )


#: The documented payout test cards and their outcomes.
TEST_CARD_RULES: tuple[Rule, ...] = (
    Rule.ok(card="4671593866478252"),
    Rule.error(10000, card="5325349472901311"),
    Rule.error(10001, card="4556046085041740"),
    Rule.error(8888, card="5543974702876045"),
    Rule.process(then="ok", card="5507841999732294"),
    Rule.process(then="error", error_code=10001, card="4532676596620704"),
    Rule.ok(card="6204500338419360939"),
    Rule.ok(card="629656013969216940"),
    Rule.ok(card="62861819783765929"),
)

_SUCCESS = Rule.ok()


class RuleBook:
    """The configured rules (``emulator.rules``); later rules take precedence."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []

    def add(self, rule: Rule) -> Rule:
        """Install ``rule`` ahead of every earlier one; returns it for chaining in tests."""
        self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget the added rules (the test cards stay)."""
        self._rules.clear()

    def resolve(self, order_id: str, amount: Decimal, card: str | None) -> Rule:
        """The rule deciding a new payout."""
        for rule in reversed(self._rules):
            if rule.matches(order_id, amount, card):
                return rule
        for rule in TEST_CARD_RULES:
            if rule.matches(order_id, amount, card):
                return rule
        return _SUCCESS
