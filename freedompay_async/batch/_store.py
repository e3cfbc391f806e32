"""The journal interface shared by both backends: row states and their transitions, the
row and report models, and :class:`JournalStore`, what the runner needs from a backend.

State machine (every backend keeps an event per transition, with its time)::

    pending -> sending -> success | error                  final
                       -> process -> success | error       (polled until final)
                       -> unknown -> (a resume / another worker asks the status endpoint)
                       -> pending                          certainly not received
    pending -> success | error | process | unknown         the status preflight of a new batch
    sending | unknown  -> sending    only after the gateway said "not found" (signed, in the
                                     answer just received) and the last send started longer
                                     ago than the not-found grace; never a row that answered
                                     ``process`` (it exists)

``sending`` is committed before the request goes out; the outcomes that follow may be held
back (at most the backend's flush interval): one lost in a crash leaves the row in the in-doubt
state before it, which is resolved through the status endpoint - never sent again blindly.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeAlias

import attrs

from .._idempotency import default_idempotency_key
from .._masking import mask_card_numbers
from ..errors import FreedomPayError
from ._rows import PayoutRow

#: What the runner does with a claimed row: ask its status first (never sent from this journal),
#: send it (its ``sending`` is committed), or reconcile it (it may have reached the gateway).
Action: TypeAlias = Literal["ask", "send", "reconcile"]

__all__ = [
    "Action",
    "BatchReport",
    "JournalBusy",
    "JournalError",
    "JournalMismatch",
    "JournalStore",
    "RowResult",
    "RowState",
]


class JournalError(FreedomPayError):
    """The journal cannot be used (not a journal, newer schema, illegal state change)."""


class JournalMismatch(JournalError):
    """The journal belongs to another merchant, gateway or set of rows: nothing was sent."""


class JournalBusy(JournalError):
    """Another process is working on this journal."""


class RowState(enum.Enum):
    """Where a row of a batch stands."""

    #: Not sent, or certainly not received by the gateway: sending it is safe.
    PENDING = "pending"
    #: Committed just before its request went out; the outcome is not known yet.
    SENDING = "sending"
    #: Accepted; the bank's answer is not final. Polled through the status endpoint.
    PROCESS = "process"
    #: The gateway could not tell whether it exists. Never re-sent blindly: resume asks.
    UNKNOWN = "unknown"
    #: Paid.
    SUCCESS = "success"
    #: Refused (declined, bad field, insufficient balance...); nothing was paid.
    ERROR = "error"

    @property
    def is_final(self) -> bool:
        return self in (RowState.SUCCESS, RowState.ERROR)

    @property
    def in_doubt(self) -> bool:
        """Whether the row may have reached the gateway without a final answer."""
        return self in (RowState.SENDING, RowState.PROCESS, RowState.UNKNOWN)


_P, _S, _PR, _U, _OK, _ERR = (
    RowState.PENDING,
    RowState.SENDING,
    RowState.PROCESS,
    RowState.UNKNOWN,
    RowState.SUCCESS,
    RowState.ERROR,
)
TRANSITIONS: Mapping[RowState, frozenset[RowState]] = {
    # pending -> final / process / unknown: the status preflight found the order known.
    _P: frozenset({_S, _OK, _ERR, _PR, _U}),
    _S: frozenset({_OK, _ERR, _PR, _U, _P, _S}),
    _PR: frozenset({_OK, _ERR, _PR, _U}),
    _U: frozenset({_OK, _ERR, _PR, _U, _S}),
    _OK: frozenset(),
    _ERR: frozenset(),
}


@attrs.frozen(slots=True)
class RowResult:
    """One row as the journal knows it. ``destination`` is masked; times are Unix seconds."""

    order_id: str
    line: int
    state: RowState
    amount: Decimal
    currency: str | None
    description: str
    destination: str
    operation: str
    idempotency_key: str
    attempts: int = 0
    send_started_at: float | None = None
    payment_id: int | None = None
    error_code: int | None = None
    error_description: str | None = None
    updated_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (amount as text, state as its word)."""
        return {
            "line": self.line,
            "order_id": self.order_id,
            "state": self.state.value,
            "amount": format(self.amount, "f"),
            "currency": self.currency,
            "destination": self.destination,
            "description": self.description,
            "payment_id": self.payment_id,
            "error_code": self.error_code,
            "error_description": self.error_description,
            "attempts": self.attempts,
            "operation": self.operation,
            "idempotency_key": self.idempotency_key,
            "updated_at": iso_time(self.updated_at),
        }


#: Column order of :meth:`BatchReport.csv_rows`.
REPORT_COLUMNS: tuple[str, ...] = (
    "line",
    "order_id",
    "state",
    "amount",
    "currency",
    "destination",
    "description",
    "payment_id",
    "error_code",
    "error_description",
    "attempts",
    "operation",
    "idempotency_key",
    "updated_at",
)


def iso_time(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


@attrs.frozen(slots=True)
class BatchReport:
    """The state of every row of a batch, in file order, with counts by state.

    ``stopped`` says why a run ended before every row was tried (a signal, a refused key);
    ``elapsed`` is the run's wall time (``None`` for a report read from a journal).
    """

    merchant_id: str
    gateway: str
    rows: tuple[RowResult, ...]
    source: str | None = None
    stopped: str | None = None
    elapsed: float | None = None
    #: The batch's id in a PostgreSQL journal (``None`` for SQLite: the file is the batch).
    batch_id: str | None = None

    @property
    def counts(self) -> dict[RowState, int]:
        """How many rows are in each state (every state present, zeros included)."""
        counts = dict.fromkeys(RowState, 0)
        for row in self.rows:
            counts[row.state] += 1
        return counts

    @property
    def amounts(self) -> dict[RowState, Decimal]:
        """The sum of the amounts in each state."""
        amounts = dict.fromkeys(RowState, Decimal(0))
        for row in self.rows:
            amounts[row.state] += row.amount
        return amounts

    @property
    def all_succeeded(self) -> bool:
        return all(row.state is RowState.SUCCESS for row in self.rows)

    @property
    def needs_attention(self) -> tuple[RowResult, ...]:
        """Rows that did not succeed: refused, unknown, still in process or not sent."""
        return tuple(row for row in self.rows if row.state is not RowState.SUCCESS)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary and rows."""
        return {
            "merchant_id": self.merchant_id,
            "gateway": self.gateway,
            "batch_id": self.batch_id,
            "source": self.source,
            "stopped": self.stopped,
            "counts": {state.value: count for state, count in self.counts.items()},
            "amounts": {state.value: format(a, "f") for state, a in self.amounts.items()},
            "rows": [row.as_dict() for row in self.rows],
        }

    def csv_rows(self) -> Iterable[list[str]]:
        """The header, then one list of texts per row (see :data:`REPORT_COLUMNS`)."""
        yield list(REPORT_COLUMNS)
        for row in self.rows:
            fields = row.as_dict()
            yield ["" if fields[name] is None else str(fields[name]) for name in REPORT_COLUMNS]


def _row_content(row: PayoutRow, destination: str) -> list[tuple[str, str]]:
    """What identifies a row's payout, for its key (the destination masked: keys are stored)."""
    return [
        ("pg_order_id", row.order_id),
        ("pg_amount", format(row.amount, "f")),
        ("pg_currency", row.currency or ""),
        ("pg_description", row.description),
        ("destination", destination),
    ]


def pending_entry(merchant_id: str, row: PayoutRow, updated_at: float = 0.0) -> RowResult:
    """A row as a new batch records it (``pending``, with its deterministic idempotency key)."""
    destination = row.destination  # masked once per row (a property: it masks on every read)
    operation = row.operation
    return RowResult(
        order_id=row.order_id,
        line=row.line,
        state=RowState.PENDING,
        amount=row.amount,
        currency=row.currency,
        description=row.description,
        destination=destination,
        operation=operation,
        idempotency_key=default_idempotency_key(
            merchant_id, operation, _row_content(row, destination)
        ),
        updated_at=updated_at,
    )


def identity(entry: RowResult) -> tuple[object, ...]:
    return (
        entry.order_id,
        entry.amount,
        entry.currency,
        entry.description,
        entry.destination,
        entry.operation,
        entry.idempotency_key,
    )


def changed(
    current: RowResult,
    state: RowState,
    *,
    now: float,
    payment_id: int | None = None,
    error_code: int | None = None,
    error_description: str | None = None,
) -> RowResult:
    """``current`` moved to ``state`` (entering ``sending`` counts an attempt and stamps its
    start); raises :class:`JournalError` for a change the state machine forbids."""
    if state not in TRANSITIONS[current.state]:
        raise JournalError(
            f"order {current.order_id}: {current.state.value} -> {state.value} is not allowed"
        )
    sending = state is RowState.SENDING
    error = state is RowState.ERROR
    return RowResult(
        current.order_id,
        current.line,
        state,
        current.amount,
        current.currency,
        current.description,
        current.destination,
        current.operation,
        current.idempotency_key,
        current.attempts + 1 if sending else current.attempts,
        now if sending else current.send_started_at,
        payment_id if payment_id is not None else current.payment_id,
        error_code if error else None,
        mask_card_numbers(error_description) if error and error_description else None,
        now,
    )


class JournalStore(Protocol):
    """What the shared runner needs from a journal backend (SQLite or PostgreSQL).

    A backend hands out work with :meth:`claim` (rows to send have their ``sending`` committed
    before it returns), records outcomes with :meth:`record` (committed within
    :attr:`flush_interval`), and says with :attr:`may_send` whether requests may still start
    (a PostgreSQL worker whose lease cannot be renewed is fenced).
    """

    @property
    def flush_interval(self) -> float: ...

    def __getitem__(self, order_id: str) -> RowResult: ...

    @property
    def counts(self) -> Mapping[RowState, int]: ...

    @property
    def may_send(self) -> bool: ...

    async def claim(self, limit: int) -> list[tuple[RowResult, Action]]: ...

    async def more_later(self) -> bool: ...

    async def mark_sending(self, order_id: str) -> RowResult | None: ...

    def record(
        self,
        order_id: str,
        state: RowState,
        *,
        payment_id: int | None = None,
        error_code: int | None = None,
        error_description: str | None = None,
        detail: str | None = None,
    ) -> None: ...

    def release(self, order_id: str) -> None: ...

    async def flush(self) -> None: ...

    async def flush_due(self) -> None: ...
