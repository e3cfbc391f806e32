"""Typed values from the gateway's text fields: never an exception, ``None`` when unusable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freedompay_async._convert import GATEWAY_TIMEZONE, to_datetime, to_decimal, to_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.50", Decimal("10.50")), ("-10", Decimal("-10")), ("", None), ("ten", None)],
)
def test_decimal(text: str, expected: Decimal | None) -> None:
    assert to_decimal(text) == expected


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-inf"])
def test_decimal_refuses_non_finite(text: str) -> None:
    assert to_decimal(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), ("-7", -7), ("", None), ("²", None), ("--5", None), ("1" * 5000, None)],
)
def test_int(text: str, expected: int | None) -> None:
    assert to_int(text) == expected


def test_datetime_naive_is_gateway_time() -> None:
    parsed = to_datetime("2026-11-21 12:00:00")
    assert parsed == datetime(2026, 11, 21, 12, tzinfo=GATEWAY_TIMEZONE)
    assert GATEWAY_TIMEZONE.utcoffset(None) == timedelta(hours=5)
    assert to_datetime("2026-11-21T07:00:00Z") == datetime(2026, 11, 21, 7, tzinfo=timezone.utc)
    assert to_datetime("21.11.2026") is None


@given(st.one_of(st.text(), st.none(), st.dictionaries(st.text(), st.text())))
def test_never_raises(value: object) -> None:
    to_decimal(value)
    to_int(value)
    parsed = to_datetime(value)
    assert parsed is None or parsed.tzinfo is not None
