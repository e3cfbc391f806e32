"""The batch journal: one SQLite file (standard library, WAL) recording every row's state.

A row's state is committed **before** its request goes out, so after a crash at any instant -
SIGKILL between send and answer included - the journal says which rows may have reached the
gateway (``sending``, ``unknown``, ``process``) and which certainly did not (``pending``).

State machine (``events`` keeps every transition, with its time, for the audit trail)::

    pending -> sending -> success | error                  final
                       -> process -> success | error       (polled until final)
                       -> unknown -> (resume asks the status endpoint)
                       -> pending                          certainly not received
    sending | unknown  -> sending    only after the gateway said "not found" (signed) and the
                                     previous send started longer ago than the not-found grace

Only entering ``sending`` must be on disk before anything else happens; the outcomes that
follow are committed together with the next ``sending`` (or within 0.2 s, or on close). An
outcome lost in a crash leaves its row in the in-doubt state before it, which a resume
resolves through the status endpoint: one commit per row instead of two, and nothing unsafe.

``synchronous=NORMAL`` (the default) makes every commit durable against a crash of the process;
``FULL`` also against a crash of the machine (power loss), at the cost of an fsync per commit.

The journal never holds a full card number: only the masked one. Resuming re-reads the input
file (its path is recorded) and checks that every row still matches its journal entry. A
journal belongs to one merchant and one gateway; it refuses others. While a batch runs, the
journal file is locked (``flock``) so two processes can never work on the same batch.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeAlias

import attrs

from .._idempotency import default_idempotency_key
from .._masking import mask_card_numbers
from ..errors import FreedomPayError
from ._rows import PayoutRow

__all__ = [
    "BatchReport",
    "Journal",
    "JournalBusy",
    "JournalError",
    "JournalMismatch",
    "RowResult",
    "RowState",
    "Synchronous",
]

SCHEMA_VERSION = 1
#: Changes held back at most before they are committed together (see Journal.transition).
_QUEUE_LIMIT = 512

Synchronous: TypeAlias = Literal["NORMAL", "FULL"]


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
_TRANSITIONS: Mapping[RowState, frozenset[RowState]] = {
    _P: frozenset({_S}),
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
            "updated_at": _iso(self.updated_at),
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


def _iso(timestamp: float | None) -> str | None:
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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    order_id          TEXT PRIMARY KEY,
    seq               INTEGER NOT NULL UNIQUE,
    line              INTEGER NOT NULL,
    operation         TEXT NOT NULL,
    amount            TEXT NOT NULL,
    currency          TEXT,
    description       TEXT NOT NULL,
    destination       TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN
                          ('pending', 'sending', 'process', 'unknown', 'success', 'error')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    send_started_at   REAL,
    payment_id        INTEGER,
    error_code        INTEGER,
    error_description TEXT,
    updated_at        REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY,
    at         REAL NOT NULL,
    order_id   TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    detail     TEXT
);
"""

_SELECT_ROWS = (
    "SELECT order_id, line, state, amount, currency, description, destination, operation, "
    "idempotency_key, attempts, send_started_at, payment_id, error_code, error_description, "
    "updated_at FROM rows ORDER BY seq"
)
_INSERT_ROW = (
    "INSERT INTO rows (seq, order_id, line, state, amount, currency, description, destination, "
    "operation, idempotency_key, attempts, send_started_at, payment_id, error_code, "
    "error_description, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _result(record: Sequence[Any]) -> RowResult:
    (order_id, line, state, amount, currency, description, destination, operation, key,
     attempts, started, payment_id, code, text, updated) = record  # fmt: skip
    return RowResult(
        order_id=order_id,
        line=line,
        state=RowState(state),
        amount=Decimal(amount),
        currency=currency,
        description=description,
        destination=destination,
        operation=operation,
        idempotency_key=key,
        attempts=attempts,
        send_started_at=started,
        payment_id=payment_id,
        error_code=code,
        error_description=text,
        updated_at=updated,
    )


def _lock(path: Path) -> int | None:
    """An exclusive advisory lock on the journal file, held while the journal is open.

    ``flock`` locks are independent of SQLite's own (``fcntl``) locks; the descriptor stays
    open until the SQLite connection is closed, so closing it cannot drop SQLite's locks.
    """
    if sys.platform == "win32":  # pragma: no cover - no flock; SQLite's own locking remains
        return None
    import fcntl

    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise JournalBusy(f"{path} is in use by another process") from None
    return descriptor


class Journal:
    """A batch journal in the SQLite file ``path`` (created when missing), or, with
    ``path=None``, in memory only (no crash safety: for tests and measurements).

    Use :meth:`start` to bind it to a merchant, a gateway and the rows, then
    :meth:`transition` for every state change (each change updates the row and appends an
    event, see :meth:`transition` for when it is committed). Reading is served from memory.
    Close it (or use ``with``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        synchronous: Synchronous = "NORMAL",
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be 'NORMAL' or 'FULL'")
        self.path = None if path is None else Path(path)
        self._rows: dict[str, RowResult] = {}
        self._counts = dict.fromkeys(RowState, 0)
        self.meta: dict[str, str] = {}
        #: Time spent in journal writes, how many there were, the longest (for measurements).
        self.write_seconds = 0.0
        self.writes = 0
        self.max_write_seconds = 0.0
        #: Longest time a change other than ``sending`` waits to be committed (seconds).
        self.flush_interval = 0.2
        self._queue: list[tuple[tuple[object, ...], tuple[object, ...]]] = []
        self._queued_since: float | None = None
        self._holding = False
        self._db: sqlite3.Connection | None = None
        self._lock: int | None = None
        if self.path is not None:
            self._open(self.path, synchronous)

    def _open(self, path: Path, synchronous: Synchronous) -> None:
        with contextlib.suppress(FileExistsError):
            # Owner-only: the journal is the merchant's business data (no card numbers).
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        self._lock = _lock(path)
        try:
            db = sqlite3.connect(path, isolation_level=None)
            self._db = db
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
                raise JournalError(f"{path}: SQLite refused WAL mode")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.execute("PRAGMA busy_timeout=5000")
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            self.meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            version = int(self.meta.get("schema", SCHEMA_VERSION))
            if version > SCHEMA_VERSION:
                raise JournalError(f"{path}: journal schema {version} is newer than this library")
            for record in db.execute(_SELECT_ROWS):
                row = _result(record)
                self._rows[row.order_id] = row
                self._counts[row.state] += 1
        except sqlite3.DatabaseError as exc:
            self.close()
            raise JournalError(f"{path} is not a batch journal ({exc})") from None
        except BaseException:
            self.close()
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- lifecycle ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Within this block ``sending`` changes wait too; all are committed at its end, in
        one transaction (nothing may be sent before the block is left)."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        self.flush()

    def flush(self) -> None:
        """Commit every change made so far (one transaction)."""
        if not self._queue or self._db is None:
            return
        started = time.perf_counter()
        try:
            self._commit_queue()
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot write the journal ({exc})") from exc
        self._queue.clear()
        self._queued_since = None
        took = time.perf_counter() - started
        self.write_seconds += took
        self.writes += 1
        self.max_write_seconds = max(self.max_write_seconds, took)

    def _commit_queue(self) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET state = ?, attempts = ?, send_started_at = ?, "
                "payment_id = ?, error_code = ?, error_description = ?, updated_at = ? "
                "WHERE order_id = ?",
                [update for update, _ in self._queue],
            )
            db.executemany(
                "INSERT INTO events (at, order_id, from_state, to_state, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                [event for _, event in self._queue],
            )

    def close(self) -> None:
        """Commit what is left, close the database and release the lock (the file stays)."""
        if self._db is not None:
            with contextlib.suppress(JournalError):
                self.flush()
            db, self._db = self._db, None
            db.close()
        if self._lock is not None:
            descriptor, self._lock = self._lock, None
            os.close(descriptor)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path) if self.path else None!r}, rows={len(self._rows)})"

    # -- binding to a batch ------------------------------------------------------------------

    @property
    def is_new(self) -> bool:
        """Whether no batch was started in this journal yet."""
        return not self._rows

    @property
    def merchant_id(self) -> str | None:
        return self.meta.get("merchant_id")

    @property
    def gateway(self) -> str | None:
        return self.meta.get("gateway")

    @property
    def source(self) -> str | None:
        """The input file the rows were read from, if the batch recorded one."""
        return self.meta.get("source") or None

    @property
    def post_link(self) -> str | None:
        """The batch's default notification URL, if one was recorded."""
        return self.meta.get("post_link") or None

    def start(
        self,
        *,
        merchant_id: str,
        gateway: str,
        rows: Sequence[PayoutRow],
        source: str | None = None,
        post_link: str | None = None,
    ) -> None:
        """Record a new batch (every row ``pending``), or check that this journal's batch is
        the same: same merchant, same gateway, same rows (order id, amount, currency,
        description, masked destination, operation). Raises :class:`JournalMismatch`."""
        if self.is_new:
            self._create(merchant_id, gateway, rows, source, post_link)
            return
        if self.merchant_id != merchant_id:
            raise JournalMismatch(
                f"the journal belongs to merchant {self.merchant_id}, not {merchant_id}"
            )
        if self.gateway != gateway:
            raise JournalMismatch(f"the journal was run against {self.gateway}, not {gateway}")
        problems: list[str] = []
        given = {row.order_id: row for row in rows}
        for order_id in self._rows.keys() - given.keys():
            problems.append(f"order {order_id} is in the journal but not in the rows")
        for order_id in given.keys() - self._rows.keys():
            problems.append(f"order {order_id} (line {given[order_id].line}) is not in the journal")
        for order_id, row in given.items():
            entry = self._rows.get(order_id)
            if entry is not None and _identity(entry) != _identity(_pending(merchant_id, row)):
                problems.append(f"order {order_id} (line {row.line}) differs from the journal")
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise JournalMismatch(
                "the rows are not the journal's batch: " + "; ".join(sorted(problems)[:5]) + more
            )

    def _create(
        self,
        merchant_id: str,
        gateway: str,
        rows: Sequence[PayoutRow],
        source: str | None,
        post_link: str | None,
    ) -> None:
        if len({row.order_id for row in rows}) != len(rows):
            raise JournalError("order ids must be unique within a batch")
        now = time.time()
        entries = [attrs.evolve(_pending(merchant_id, row), updated_at=now) for row in rows]
        meta = {
            "schema": str(SCHEMA_VERSION),
            "merchant_id": merchant_id,
            "gateway": gateway,
            "source": source or "",
            "post_link": post_link or "",
            "created_at": _iso(now) or "",
        }
        if self._db is not None:
            with self._transaction() as db:
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
                db.executemany(
                    _INSERT_ROW,
                    ((seq, *_record(entry)) for seq, entry in enumerate(entries)),
                )
                db.execute(
                    "INSERT INTO events (at, order_id, from_state, to_state, detail) "
                    "VALUES (?, '', NULL, 'pending', ?)",
                    (now, f"batch of {len(entries)} rows started"),
                )
        self.meta = meta
        for entry in entries:
            self._rows[entry.order_id] = entry
        self._counts[RowState.PENDING] += len(entries)

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, order_id: str) -> RowResult:
        return self._rows[order_id]

    def entries(self) -> list[RowResult]:
        """Every row, in the order of the input."""
        return list(self._rows.values())

    @property
    def counts(self) -> Mapping[RowState, int]:
        """Rows per state, kept up to date by :meth:`transition` (a live view)."""
        return self._counts

    def report(self, *, stopped: str | None = None, elapsed: float | None = None) -> BatchReport:
        """The batch as it stands now."""
        return BatchReport(
            merchant_id=self.merchant_id or "",
            gateway=self.gateway or "",
            rows=tuple(self._rows.values()),
            source=self.source,
            stopped=stopped,
            elapsed=elapsed,
        )

    @staticmethod
    def read_report(path: str | os.PathLike[str]) -> BatchReport:
        """The report of the journal at ``path``, read-only (works while a batch runs)."""
        file = Path(path)
        if not file.is_file():
            raise JournalError(f"{file}: no such journal")
        try:
            db = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                rows = tuple(_result(record) for record in db.execute(_SELECT_ROWS))
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{file} is not a batch journal ({exc})") from None
        return BatchReport(
            merchant_id=meta.get("merchant_id", ""),
            gateway=meta.get("gateway", ""),
            rows=rows,
            source=meta.get("source") or None,
        )

    def events(self, order_id: str | None = None) -> list[tuple[float, str, str | None, str, str]]:
        """The audit trail: ``(time, order id, from state, to state, detail)``, oldest first."""
        if self._db is None:
            return []
        self.flush()
        query = "SELECT at, order_id, from_state, to_state, COALESCE(detail, '') FROM events"
        if order_id is None:
            return list(self._db.execute(query + " ORDER BY id"))
        return list(self._db.execute(query + " WHERE order_id = ? ORDER BY id", (order_id,)))

    # -- changing ----------------------------------------------------------------------------

    def transition(
        self,
        order_id: str,
        state: RowState,
        *,
        payment_id: int | None = None,
        error_code: int | None = None,
        error_description: str | None = None,
        detail: str | None = None,
    ) -> RowResult:
        """Move a row to ``state``.

        Entering ``sending`` is committed before this returns (with every change before it),
        so the request may go out. Other changes are committed with the next ``sending``, or
        at most :attr:`flush_interval` later, on :meth:`flush` and on :meth:`close`: one
        lost in a crash leaves the row in an earlier, in-doubt state that a resume resolves
        through the status endpoint - never in a state that would send it again blindly.

        Entering ``sending`` counts an attempt and stamps its start time. ``payment_id`` is
        kept once known. Raises :class:`JournalError` for a change the state machine forbids.
        """
        current = self._rows[order_id]
        if state not in _TRANSITIONS[current.state]:
            raise JournalError(
                f"order {order_id}: {current.state.value} -> {state.value} is not allowed"
            )
        now = time.time()
        sending = state is RowState.SENDING
        updated = attrs.evolve(
            current,
            state=state,
            attempts=current.attempts + 1 if sending else current.attempts,
            send_started_at=now if sending else current.send_started_at,
            payment_id=payment_id if payment_id is not None else current.payment_id,
            error_code=error_code if state is RowState.ERROR else None,
            error_description=(
                mask_card_numbers(error_description)
                if state is RowState.ERROR and error_description
                else None
            ),
            updated_at=now,
        )
        if self._db is not None:
            self._queue.append(
                (
                    (
                        state.value,
                        updated.attempts,
                        updated.send_started_at,
                        updated.payment_id,
                        updated.error_code,
                        updated.error_description,
                        now,
                        order_id,
                    ),
                    (
                        now,
                        order_id,
                        current.state.value,
                        state.value,
                        mask_card_numbers(detail) if detail else None,
                    ),
                )
            )
            if self._queued_since is None:
                self._queued_since = time.monotonic()
            if not self._holding and (
                sending
                or len(self._queue) >= _QUEUE_LIMIT
                or time.monotonic() - self._queued_since >= self.flush_interval
            ):
                try:
                    self.flush()
                except BaseException:
                    if sending:  # not recorded, so it must not be sent: forget it
                        self._queue.pop()
                    raise
        self._rows[order_id] = updated
        self._counts[current.state] -= 1
        self._counts[state] += 1
        return updated


def _pending(merchant_id: str, row: PayoutRow) -> RowResult:
    return RowResult(
        order_id=row.order_id,
        line=row.line,
        state=RowState.PENDING,
        amount=row.amount,
        currency=row.currency,
        description=row.description,
        destination=row.destination,
        operation=row.operation,
        idempotency_key=default_idempotency_key(merchant_id, row.operation, row.order_id),
    )


def _identity(entry: RowResult) -> tuple[object, ...]:
    return (
        entry.order_id,
        entry.amount,
        entry.currency,
        entry.description,
        entry.destination,
        entry.operation,
        entry.idempotency_key,
    )


def _record(entry: RowResult) -> tuple[object, ...]:
    return (
        entry.order_id,
        entry.line,
        entry.state.value,
        format(entry.amount, "f"),
        entry.currency,
        entry.description,
        entry.destination,
        entry.operation,
        entry.idempotency_key,
        entry.attempts,
        entry.send_started_at,
        entry.payment_id,
        entry.error_code,
        entry.error_description,
        entry.updated_at,
    )
