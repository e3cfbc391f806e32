"""One call convention across the facades: the identifier a method acts on (an order id, a
payment id, a user id) is its only positional parameter; everything else is keyword-only."""

from __future__ import annotations

import inspect

import pytest

from freedompay_async import Cards, Mobile, Payments, Payouts, Tokens

FACADES = (Payouts, Payments, Cards, Tokens, Mobile)
METHODS = [
    (facade, name)
    for facade in FACADES
    for name, member in vars(facade).items()
    if not name.startswith("_") and inspect.iscoroutinefunction(member)
]


@pytest.mark.parametrize(("facade", "name"), METHODS, ids=[f"{f.__name__}.{n}" for f, n in METHODS])
def test_only_the_identifier_is_positional(facade: type, name: str) -> None:
    parameters = list(inspect.signature(getattr(facade, name)).parameters.values())[1:]
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert len(positional) <= 1, f"{facade.__name__}.{name}: {positional} are positional"
    assert all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters)
    if positional:
        first = positional[0]
        # ``payment``: the created payment (its result carries order id and amount) or its id.
        assert first in {"order_id", "payment_id", "payment", "user_id", "currency"}, (name, first)


def test_status_and_wait_read_alike() -> None:
    for method in (Payouts.status, Payouts.wait, Payments.status, Payments.wait, Tokens.status):
        first = list(inspect.signature(method).parameters.values())[1]
        assert first.kind is first.POSITIONAL_OR_KEYWORD, method.__qualname__
