"""Batch rows: the row model and the CSV / JSONL readers (line numbers, duplicates, masking)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freedompay_async import ValidationError
from freedompay_async.batch import BadRows, PayoutRow, RowProblem, payout_row, read_payout_rows

CARD = "4405645000006150"
BAD_LUHN = "4405645000006151"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_with_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "batch.csv",
        "order_id,amount,description,card_number,card_token,card_id,user_id,currency\n"
        f"A-1,1500.00,Salary,{CARD},,,,kzt\n"
        "\n"
        'A-2,10,"Cashback, November",,tok-123,,u_7,\n'
        "A-3,0.5,Refund,,,42,u_8,\n",
    )
    rows = read_payout_rows(path)
    assert [(row.line, row.order_id) for row in rows] == [(2, "A-1"), (4, "A-2"), (5, "A-3")]
    first, second, third = rows
    assert first.amount == Decimal("1500.00")
    assert first.currency == "KZT"
    assert first.card_number == CARD
    assert first.operation == "payouts.to_card"
    assert second.description == "Cashback, November"
    assert (second.card_token, second.user_id, second.operation) == (
        "tok-123",
        "u_7",
        "payouts.to_token",
    )
    assert third.card_id == 42
    assert third.amount == Decimal("0.50")


def test_semicolons_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        f"\ufefforder_id;amount;description;card_number\nB-1;99.99;Pay;{CARD}\n".encode()
    )
    (row,) = read_payout_rows(path)
    assert (row.order_id, row.amount, row.line) == ("B-1", Decimal("99.99"), 2)


def test_every_bad_row_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.csv",
        "order_id,amount,description,card_number\n"
        f"C-1,100.00,ok,{CARD}\n"
        f"C-2,1.234,too precise,{CARD}\n"
        f"C-3,abc,not a number,{CARD}\n"
        f"C-4,0,zero,{CARD}\n"
        f"C-5,100,bad luhn,{BAD_LUHN}\n"
        f"C-1,100,duplicate,{CARD}\n"
        "C-6,100,no card,\n"
        f"C-7,100,{CARD}\n"
        f",100,no order id,{CARD}\n",
    )
    with pytest.raises(BadRows) as caught:
        read_payout_rows(path)
    problems = {(p.line, p.field) for p in caught.value.problems}
    assert problems == {
        (3, "amount"),
        (4, "amount"),
        (5, "amount"),
        (6, "card_number"),
        (7, "order_id"),
        (8, "card_number"),
        (9, None),
        (10, "order_id"),
    }
    duplicate = next(p for p in caught.value.problems if p.line == 7)
    assert "line 2" in duplicate.message
    text = str(caught.value) + "".join(str(p) for p in caught.value.problems)
    assert BAD_LUHN not in text
    assert CARD not in text


def test_header_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "order,amount\nX,1\n")
    with pytest.raises(BadRows) as caught:
        read_payout_rows(path)
    assert {(p.line, p.field) for p in caught.value.problems} >= {
        (1, "order_id"),
        (1, "description"),
        (1, "card_number"),
    }


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(BadRows, match="no payout rows"):
        read_payout_rows(write(tmp_path, "e.csv", "order_id,amount,description,card_number\n"))


def test_jsonl_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "batch.jsonl",
        f'{{"order_id": "J-1", "amount": 12.50, "description": "d", "card_number": "{CARD}"}}\n'
        "\n"
        '{"order_id": 77, "amount": "3", "description": "d", "card_id": 5, "user_id": "u1"}\n'
        "not json\n"
        "[1, 2]\n"
        f'{{"order_id": "J-3", "amount": 1.005, "description": "d", "card_number": "{CARD}"}}\n',
    )
    with pytest.raises(BadRows) as caught:
        read_payout_rows(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (4, None),
        (5, None),
        (6, "amount"),
    ]
    good = write(tmp_path, "good.ndjson", "\n".join(path.read_text().splitlines()[:3]))
    first, second = read_payout_rows(good)
    assert first.amount == Decimal("12.50")  # JSON numbers are read as Decimal, never float
    assert (second.order_id, second.card_id, second.line) == ("77", 5, 3)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"card_token": "t"}, "user_id"),
        ({"card_number": CARD, "card_token": "t", "user_id": "u"}, "card_number"),
        ({"card_id": "x1", "user_id": "u"}, "card_id"),
        ({"card_token": "t", "user_id": "bad id!"}, "user_id"),
        ({"card_number": CARD, "post_link": "ftp://x"}, "post_link"),
        ({"card_number": CARD, "currency": "TENGE"}, "currency"),
        ({"card_token": "t", "user_id": "u", "card_name": "I I"}, "card_name"),
        ({"card_number": CARD, "amount": 1.5}, "amount"),
        ({"card_number": CARD, "amount": True}, "amount"),
    ],
)
def test_row_checks(fields: dict[str, object], field: str) -> None:
    record = {"order_id": "R-1", "amount": "1.00", "description": "d", **fields}
    with pytest.raises(ValidationError) as caught:
        payout_row(record)
    assert caught.value.field == field


def test_bad_rows_message_is_short() -> None:
    problems = [RowProblem(line, "amount", "is not a number") for line in range(2, 12)]
    message = str(BadRows(problems, source="x.csv"))
    assert message.startswith("x.csv: 10 bad rows: line 2: amount is not a number")
    assert message.endswith("(and 7 more)")


@st.composite
def luhn_cards(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=12, max_size=18))
    total = sum(
        (d * 2 - 9 if d > 4 else d * 2) if i % 2 == 0 else d
        for i, d in enumerate(int(c) for c in reversed(body))
    )
    return body + str(-total % 10)


@given(
    card=luhn_cards(),
    cents=st.integers(1, 9_999_999_900),
)
def test_rows_round_trip_amounts_and_never_show_the_card(card: str, cents: int) -> None:
    amount = Decimal(cents).scaleb(-2)
    row = payout_row(
        {"order_id": "H-1", "amount": str(amount), "description": "d", "card_number": card}
    )
    assert row.amount == amount
    assert isinstance(row, PayoutRow)
    assert card not in repr(row)
    assert card not in row.destination
    assert row.destination.endswith(card[-4:])
