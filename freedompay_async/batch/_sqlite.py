"""The SQLite journal: one file (standard library, WAL), one process at a time.

A row's state is committed **before** its request goes out, so after a crash at any instant -
SIGKILL between send and answer included - the journal says which rows may have reached the
gateway (``sending``, ``unknown``, ``process``) and which certainly did not (``pending``); see
:mod:`._store` for the state machine.

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

import collections
import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeAlias

from .._masking import mask_card_numbers
from ._rows import PayoutRow
from ._store import (
    Action,
    BatchReport,
    JournalBusy,
    JournalError,
    JournalMismatch,
    RowResult,
    RowState,
    changed,
    identity,
    iso_time,
    pending_entry,
)

__all__ = ["Journal", "SqliteStore", "Synchronous"]

SCHEMA_VERSION = 1
#: Changes held back at most before they are committed together (see Journal.transition).
_QUEUE_LIMIT = 512

Synchronous: TypeAlias = Literal["NORMAL", "FULL"]


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


def _read(file: Path, options: str) -> tuple[dict[str, str], tuple[RowResult, ...]]:
    """A journal's meta and rows through a read-only connection (``options``: URI query)."""
    db = sqlite3.connect(f"{file.resolve().as_uri()}?{options}", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        return meta, tuple(_result(record) for record in db.execute(_SELECT_ROWS))
    finally:
        db.close()


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
        try:
            with contextlib.suppress(FileExistsError):
                # Owner-only: the journal is the merchant's business data (no card numbers).
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            self._lock = _lock(path)
        except OSError as exc:
            raise JournalError(f"{path}: cannot open the journal ({exc.strerror or exc})") from None
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
            if isinstance(exc, sqlite3.OperationalError):  # read-only, full disk, I/O error
                raise JournalError(f"{path}: cannot write the journal ({exc})") from None
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

    def flush_due(self) -> None:
        """Commit the changes waiting since half the flush interval or longer (called by the
        runner's timer, so outcomes are on disk within :attr:`flush_interval` even when no
        ``sending`` follows them)."""
        since = self._queued_since
        if (
            since is not None
            and not self._holding
            and time.monotonic() - since >= self.flush_interval / 2
        ):
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
        """Commit what is left, fold the write-ahead log into the file and truncate it (so
        the journal at rest is the one file), close the database and release the lock."""
        if self._db is not None:
            with contextlib.suppress(JournalError):
                self.flush()
            db, self._db = self._db, None
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
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
            if entry is not None and identity(entry) != identity(pending_entry(merchant_id, row)):
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
        entries = [pending_entry(merchant_id, row, now) for row in rows]
        meta = {
            "schema": str(SCHEMA_VERSION),
            "merchant_id": merchant_id,
            "gateway": gateway,
            "source": source or "",
            "post_link": post_link or "",
            "created_at": iso_time(now) or "",
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
            meta, rows = _read(file, "mode=ro")
        except sqlite3.OperationalError:
            # A read-only folder: no -shm can be made there, so nobody can be writing either.
            try:
                meta, rows = _read(file, "mode=ro&immutable=1")
            except sqlite3.DatabaseError as exc:
                raise JournalError(f"{file}: cannot read the journal ({exc})") from None
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
        now = time.time()
        sending = state is RowState.SENDING
        updated = changed(
            current,
            state,
            now=now,
            payment_id=payment_id,
            error_code=error_code,
            error_description=error_description,
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


class SqliteStore:
    """The runner's view of a :class:`Journal` (see :class:`~._store.JournalStore`): the rows
    in doubt first (reconciled), then the pending ones (asked about first when never sent and
    ``status_preflight``). One process owns the file, so a claim is a read of this queue; the
    ``sending`` marks of the rows claimed together share one commit."""

    def __init__(self, journal: Journal, *, status_preflight: bool = True) -> None:
        self.journal = journal
        entries = journal.entries()
        self._queue: collections.deque[tuple[str, Action]] = collections.deque(
            (entry.order_id, "reconcile") for entry in entries if entry.state.in_doubt
        )
        for entry in entries:
            if entry.state is RowState.PENDING:
                first = status_preflight and entry.attempts == 0
                self._queue.append((entry.order_id, "ask" if first else "send"))

    @property
    def flush_interval(self) -> float:
        return self.journal.flush_interval

    def __getitem__(self, order_id: str) -> RowResult:
        return self.journal[order_id]

    @property
    def counts(self) -> Mapping[RowState, int]:
        return self.journal.counts

    @property
    def may_send(self) -> bool:
        return True

    async def claim(self, limit: int) -> list[tuple[RowResult, Action]]:
        taken = [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]
        with self.journal.held():
            for order_id, action in taken:
                if action == "send":
                    self.journal.transition(order_id, RowState.SENDING)
        return [(self.journal[order_id], action) for order_id, action in taken]

    async def more_later(self) -> bool:
        return False  # one process: what it did not claim, nobody else holds

    async def mark_sending(self, order_id: str) -> RowResult:
        return self.journal.transition(order_id, RowState.SENDING)

    def record(
        self,
        order_id: str,
        state: RowState,
        *,
        payment_id: int | None = None,
        error_code: int | None = None,
        error_description: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.journal.transition(
            order_id,
            state,
            payment_id=payment_id,
            error_code=error_code,
            error_description=error_description,
            detail=detail,
        )

    def release(self, order_id: str) -> None:
        """Nothing to release: the file lock makes every row this process's."""

    async def flush(self) -> None:
        self.journal.flush()

    async def flush_due(self) -> None:
        self.journal.flush_due()
