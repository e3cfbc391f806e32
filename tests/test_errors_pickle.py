"""Every public exception pickles and comes back with its fields (Celery, multiprocessing).

The classes are found by walking what ``freedompay_async`` and ``freedompay_async.errors``
export, so an exception added later is checked too; its constructor's parameters get
representative values by name (a new parameter name fails here until it gets one).
"""

from __future__ import annotations

import inspect
import pickle
from decimal import Decimal
from typing import Any

import pytest

import freedompay_async
from freedompay_async import errors
from freedompay_async.batch import RowProblem
from freedompay_async.models import GatewayResponse
from freedompay_async.payouts import Payout, PayoutState

CARD = "4405645000006150"
ANSWER = GatewayResponse(
    endpoint="g2g/payout_status2",
    root="response",
    fields={"pg_status": "ok", "pg_payment_status": "error", "pg_order_id": "A-1"},
    raw=b"<response><pg_status>ok</pg_status></response>",
)
PAYOUT = Payout(
    order_id="A-1",
    payment_id=42,
    state=PayoutState.ERROR,
    amount=Decimal("10.00"),
    balance=None,
    card_hash="440564******6150",
    payment_date=None,
    error_code=10000,
    error_description="declined",
    raw=ANSWER,
)

#: A representative value for every constructor parameter name the exceptions use.
VALUES: dict[str, Any] = {
    "message": f"declined for card {CARD}",
    "description": "Card blocked",
    "code": 8002,
    "status": 502,
    "field": "pg_amount",
    "endpoint": "g2g/p2p2nonreg",
    "order_id": "A-1",
    "payment_id": 42,
    "raw": b"<response><pg_status>error</pg_status></response>",
    "key": "payout",
    "problems": [RowProblem(3, "amount", "too precise"), RowProblem(4, None, "duplicate")],
    "source": "rows.csv",
    "payout": PAYOUT,
}


def exception_classes() -> list[type[BaseException]]:
    found = {
        value
        for module in (freedompay_async, errors)
        for value in (getattr(module, name) for name in module.__all__)
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    return sorted(found, key=lambda cls: cls.__qualname__)


def arguments(cls: type[BaseException]) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            if not args and not kwargs:
                args.append(VALUES["message"])  # Exception's own (*args)
            continue
        if parameter.name == "fields":
            annotation = str(parameter.annotation)
            value: Any = (
                [("pg_status", "error")] if "Iterable" in annotation else {"pg_status": "error"}
            )
        elif parameter.name == "payment":
            value = None  # Payment | None: the case without a report
        else:
            assert parameter.name in VALUES, f"{cls.__name__}: give {parameter.name!r} a value"
            value = VALUES[parameter.name]
        if parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    return args, kwargs


def public_state(error: BaseException) -> dict[str, Any]:
    return {name: value for name, value in vars(error).items() if not name.startswith("__")}


def test_the_walk_finds_every_kind_of_error() -> None:
    names = {cls.__name__ for cls in exception_classes()}
    assert {"GatewayError", "PayoutDeclined", "BadRows", "ClientClosed", "JournalError"} <= names
    assert len(names) >= 40


@pytest.mark.parametrize("cls", exception_classes(), ids=lambda cls: cls.__name__)
def test_every_public_exception_round_trips_through_pickle(cls: type[BaseException]) -> None:
    args, kwargs = arguments(cls)
    error = cls(*args, **kwargs)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert public_state(copy) == public_state(error)


def test_the_fields_come_back() -> None:
    declined = errors.PayoutDeclined.from_payout(PAYOUT)
    copy = pickle.loads(pickle.dumps(declined))  # noqa: S301
    assert (copy.code, copy.description, copy.order_id, copy.payment_id) == (
        10000,
        "declined",
        "A-1",
        42,
    )
    assert copy.payout == PAYOUT
    assert copy.raw == ANSWER.raw
    assert isinstance(copy, errors.GatewayError)
    gateway = errors.GatewayError(9999, "check", raw=b"<x/>", endpoint="g2g/x")
    assert pickle.loads(pickle.dumps(gateway)).code == 9999  # noqa: S301
