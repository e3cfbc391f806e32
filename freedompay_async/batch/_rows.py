"""Payout rows: the pure row model and the CSV / JSONL readers.

Every row is checked with the same validators the payout facades use (``_validation``) before
anything is sent; problems are collected for the whole file, each with its line number, and
raised together as :class:`BadRows`. Card numbers never appear in a problem, a repr or a
journal: only masked (``440564******6150``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeAlias

import attrs

from .. import _validation as check
from .._masking import mask_pan
from ..errors import FreedomPayError, ValidationError

__all__ = [
    "COLUMNS",
    "BadRows",
    "PayoutRow",
    "RowProblem",
    "RowsFormat",
    "parse_payout_rows",
    "payout_row",
    "read_payout_rows",
]

RowsFormat: TypeAlias = Literal["csv", "jsonl"]

#: The columns (CSV header names / JSONL keys) a row may have. Others are ignored.
COLUMNS: tuple[str, ...] = (
    "order_id",
    "amount",
    "description",
    "card_number",
    "card_token",
    "card_id",
    "user_id",
    "currency",
    "card_name",
    "post_link",
)

TO_CARD = "payouts.to_card"
TO_TOKEN = "payouts.to_token"  # noqa: S105 - an endpoint name


def _masked_token(token: str) -> str:
    return token if len(token) <= 12 else f"{token[:8]}…{token[-4:]}"


@attrs.frozen(slots=True, repr=False)
class PayoutRow:
    """One payout of a batch: to a card number, or to a saved card (token or legacy card id).

    Build rows with :func:`payout_row` (checks every field) or read them from a file with
    :func:`read_payout_rows`. ``line`` is where the row was in its file (1-based; the header is
    line 1 of a CSV file). ``post_link`` overrides the batch's default notification URL.
    """

    line: int
    order_id: str
    amount: Decimal
    description: str
    card_number: str | None = None
    card_token: str | None = None
    card_id: int | None = None
    user_id: str | None = None
    currency: str | None = None
    card_name: str | None = None
    post_link: str | None = None

    @property
    def operation(self) -> str:
        """The endpoint name of the create call (``payouts.to_card`` / ``payouts.to_token``)."""
        return TO_CARD if self.card_number is not None else TO_TOKEN

    @property
    def destination(self) -> str:
        """Where the money goes, safe to show: a masked card number, a shortened token."""
        if self.card_number is not None:
            return f"card {mask_pan(self.card_number)}"
        if self.card_token is not None:
            return f"token {_masked_token(self.card_token)}"
        return f"card id {self.card_id}"

    def __repr__(self) -> str:
        return (
            f"PayoutRow(line={self.line}, order_id={self.order_id!r}, amount={self.amount!s}, "
            f"destination={self.destination!r})"
        )


@attrs.frozen(slots=True)
class RowProblem:
    """Why the row on ``line`` cannot be paid (``field`` names the column, if one is at fault).

    Line 0 is the input as a whole (it holds no rows at all)."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        if not self.line:
            return self.message
        where = f" {self.field}" if self.field else ""
        return f"line {self.line}:{where} {self.message}"


class BadRows(FreedomPayError, ValueError):
    """The input has rows that cannot be paid; nothing was sent. ``problems`` lists them all."""

    def __init__(self, problems: Sequence[RowProblem], *, source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f"{source}: " if source else ""
        count = len(self.problems)
        first = "; ".join(str(problem) for problem in self.problems[:3])
        if not any(problem.line for problem in self.problems):  # the input as a whole
            super().__init__(f"{where}{first}")
            return
        more = f" (and {count - 3} more)" if count > 3 else ""
        super().__init__(f"{where}{count} bad row{'s' * (count != 1)}: {first}{more}")


def _text(fields: Mapping[str, object], name: str) -> str | None:
    """A column's value as text; ``None`` when absent or empty. Ints become text (JSONL)."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationError(name, "must be text")
    text = str(value).strip()
    return text or None


def payout_row(fields: Mapping[str, object], line: int = 0) -> PayoutRow:
    """A checked :class:`PayoutRow` from one record's fields (see :data:`COLUMNS`).

    Raises :class:`~freedompay_async.errors.ValidationError` naming the first bad field. Exactly
    one of ``card_number``, ``card_token``, ``card_id`` must be given; the last two need
    ``user_id``. ``amount`` may be text, an int or a Decimal, never a float.
    """
    order_id = check.order_id("order_id", _text(fields, "order_id") or "")
    raw_amount = fields.get("amount")
    if isinstance(raw_amount, str):
        raw_amount = raw_amount.strip()
    if raw_amount is None or raw_amount == "":
        raise ValidationError("amount", "is required")
    if isinstance(raw_amount, float):
        raise ValidationError("amount", "use decimal.Decimal (or str) for money, not float")
    if not isinstance(raw_amount, (str, int, Decimal)) or isinstance(raw_amount, bool):
        raise ValidationError("amount", "is not a number")
    amount = Decimal(check.amount("amount", raw_amount))
    description = check.required_text("description", _text(fields, "description") or "")
    card_number = _text(fields, "card_number")
    card_token = _text(fields, "card_token")
    card_id_text = _text(fields, "card_id")
    if sum(value is not None for value in (card_number, card_token, card_id_text)) != 1:
        raise ValidationError("card_number", "give exactly one of card_number, card_token, card_id")
    user_id = _text(fields, "user_id")
    card_id: int | None = None
    if card_number is not None:
        card_number = check.card_number("card_number", card_number)
        if user_id is not None:
            user_id = check.user_id("user_id", user_id)
    else:
        if user_id is None:
            raise ValidationError("user_id", "is required for a saved card (card_token, card_id)")
        user_id = check.user_id("user_id", user_id)
        if card_token is not None:
            card_token = check.required_text("card_token", card_token, max_length=255)
        else:
            assert card_id_text is not None
            if not card_id_text.isdigit():
                raise ValidationError("card_id", "must be the numeric saved card id")
            card_id = int(card_id_text)
    currency = _text(fields, "currency")
    if currency is not None:
        currency = check.required_text("currency", currency.upper(), max_length=3)
    card_name = _text(fields, "card_name")
    if card_name is not None and card_number is None:
        raise ValidationError("card_name", "only applies to card_number rows")
    post_link = _text(fields, "post_link")
    if post_link is not None:
        post_link = check.url("post_link", post_link)
    return PayoutRow(
        line=line,
        order_id=order_id,
        amount=amount,
        description=description,
        card_number=card_number,
        card_token=card_token,
        card_id=card_id,
        user_id=user_id,
        currency=currency,
        card_name=card_name,
        post_link=post_link,
    )


def parse_payout_rows(
    records: Iterable[tuple[int, Mapping[str, object] | RowProblem]], *, source: str = ""
) -> list[PayoutRow]:
    """Check ``(line, fields)`` records (or problems found while reading them); raise
    :class:`BadRows` with every problem, duplicate order ids included, or return the rows."""
    rows: list[PayoutRow] = []
    problems: list[RowProblem] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        if isinstance(record, RowProblem):
            problems.append(record)
            continue
        try:
            row = payout_row(record, line)
        except ValidationError as exc:
            problems.append(RowProblem(line, exc.field, str(exc).removeprefix(f"{exc.field}: ")))
            continue
        seen = first_line.setdefault(row.order_id, line)
        if seen != line:
            problems.append(
                RowProblem(line, "order_id", f"duplicate order id {row.order_id!r} (line {seen})")
            )
            continue
        rows.append(row)
    if not rows and not problems:
        problems.append(RowProblem(0, None, "no payout rows (the input is empty or only a header)"))
    if problems:
        raise BadRows(problems, source=source)
    return rows


def _csv_records(text: str) -> Iterator[tuple[int, Mapping[str, object] | RowProblem]]:
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, RowProblem(1, None, f"unreadable CSV header: {exc}")
        return
    names = [name.strip().lower() for name in header]
    for required in ("order_id", "amount", "description"):
        if required not in names:
            yield 1, RowProblem(1, required, "column missing from the header")
    if not {"card_number", "card_token", "card_id"}.intersection(names):
        yield 1, RowProblem(1, "card_number", "header needs card_number, card_token or card_id")
    next_line = reader.line_num + 1
    while True:
        line = next_line
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, RowProblem(line, None, f"unreadable CSV: {exc}")
            return
        next_line = reader.line_num + 1
        if not values or all(not value.strip() for value in values):
            continue
        if len(values) != len(names):
            yield (
                line,
                RowProblem(line, None, f"has {len(values)} fields, the header {len(names)}"),
            )
            continue
        yield line, dict(zip(names, values, strict=True))


def _jsonl_records(text: str) -> Iterator[tuple[int, Mapping[str, object] | RowProblem]]:
    for line, content in enumerate(text.splitlines(), 1):
        if not content.strip():
            continue
        try:
            record = json.loads(content, parse_float=Decimal)
        except ValueError as exc:
            message = getattr(exc, "msg", "invalid JSON")
            yield line, RowProblem(line, None, f"invalid JSON: {message}")
            continue
        if not isinstance(record, dict):
            yield line, RowProblem(line, None, "must be a JSON object")
            continue
        yield line, record


def _format_of(path: Path, text: str) -> RowsFormat:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def read_payout_rows(
    path: str | os.PathLike[str], *, format: RowsFormat | None = None
) -> list[PayoutRow]:
    """Read and check every row of a CSV (header line first) or JSONL file.

    The format follows the extension (``.csv``, ``.jsonl``/``.ndjson``) unless ``format`` is
    given. CSV may be comma- or semicolon-separated, with or without a UTF-8 BOM. Raises
    :class:`BadRows` listing every bad row (with its line number) and every duplicate order id;
    ``OSError`` / ``UnicodeDecodeError`` when the file cannot be read.
    """
    file = Path(path)
    text = file.read_text(encoding="utf-8-sig")
    kind = format or _format_of(file, text)
    records = _csv_records(text) if kind == "csv" else _jsonl_records(text)
    return parse_payout_rows(records, source=str(path))
