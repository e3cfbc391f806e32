"""The batch journal: SQLite in WAL mode, the row state machine, binding and locking."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freedompay_async._requestor import default_idempotency_key
from freedompay_async.batch import (
    Journal,
    JournalBusy,
    JournalError,
    JournalMismatch,
    PayoutRow,
    RowState,
    payout_row,
)

CARD = "4405645000006150"
MERCHANT = "552893"
GATEWAY = "https://api.freedompay.kz"


def make_rows(count: int = 3) -> list[PayoutRow]:
    return [
        payout_row(
            {"order_id": f"J-{i}", "amount": f"{i}.50", "description": "d", "card_number": CARD},
            i + 2,
        )
        for i in range(count)
    ]


def started(path: Path | None, rows: list[PayoutRow] | None = None) -> Journal:
    journal = Journal(path)
    journal.start(
        merchant_id=MERCHANT,
        gateway=GATEWAY,
        rows=rows or make_rows(),
        source="/data/batch.csv",
        post_link="https://shop.example/payouts",
    )
    return journal


def test_a_new_journal_is_wal_owner_only_and_records_rows(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with started(path) as journal:
        assert journal.counts[RowState.PENDING] == 3
        entry = journal["J-1"]
        assert entry.state is RowState.PENDING
        assert entry.line == 3
        assert entry.destination == "card 440564******6150"
        assert entry.idempotency_key != default_idempotency_key(
            MERCHANT, "payouts.to_card", [("pg_order_id", "J-1")]
        )  # the row's content takes part, not only its order id
        assert str(uuid.UUID(entry.idempotency_key)) == entry.idempotency_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dict(db.execute("SELECT key, value FROM meta"))["merchant_id"] == MERCHANT
    db.close()


def test_transitions_are_committed_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with started(path) as journal:
        journal.transition("J-0", RowState.SENDING)
        journal.transition("J-0", RowState.SUCCESS, payment_id=101)
        journal.transition("J-1", RowState.SENDING)
        journal.transition(
            "J-1", RowState.ERROR, error_code=10000, error_description=f"card {CARD} declined"
        )
        journal.transition("J-2", RowState.SENDING)
        journal.transition("J-2", RowState.PROCESS, payment_id=103)
        # Read by another connection while this one is still open: "sending" is always
        # committed at once, with every change before it; the last outcome waits a little.
        report = Journal.read_report(path)
        assert [row.state for row in report.rows] == [
            RowState.SUCCESS,
            RowState.ERROR,
            RowState.SENDING,
        ]
        journal.flush()
        report = Journal.read_report(path)
        assert [row.state for row in report.rows] == [
            RowState.SUCCESS,
            RowState.ERROR,
            RowState.PROCESS,
        ]
    with Journal(path) as reopened:
        assert reopened.counts[RowState.SUCCESS] == 1
        assert reopened["J-0"].payment_id == 101
        assert reopened["J-0"].attempts == 1
        declined = reopened["J-1"]
        assert (declined.error_code, declined.error_description) == (
            10000,
            "card 440564******6150 declined",
        )
        assert reopened["J-2"].send_started_at is not None
        events = reopened.events("J-0")
        assert [(e[2], e[3]) for e in events] == [("pending", "sending"), ("sending", "success")]
    raw = b"".join(file.read_bytes() for file in tmp_path.glob("batch.journal*"))
    assert CARD.encode() not in raw  # the journal never holds a full card number


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [
        ([], RowState.PENDING),
        ([RowState.SENDING, RowState.PROCESS], RowState.PENDING),  # it exists
        ([RowState.SENDING, RowState.SUCCESS], RowState.SENDING),  # final stays final
        ([RowState.SENDING, RowState.ERROR], RowState.PENDING),
        ([RowState.SENDING, RowState.PROCESS], RowState.SENDING),  # process: never re-sent
        ([RowState.SENDING, RowState.UNKNOWN], RowState.PENDING),  # unknown: never "not sent"
    ],
)
def test_forbidden_transitions(path: list[RowState], forbidden: RowState) -> None:
    journal = started(None)
    for state in path:
        journal.transition("J-0", state)
    with pytest.raises(JournalError, match="not allowed"):
        journal.transition("J-0", forbidden)


def test_a_journal_belongs_to_one_merchant_gateway_and_batch(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    started(path).close()
    with Journal(path) as journal:
        with pytest.raises(JournalMismatch, match="merchant 552893"):
            journal.start(merchant_id="1", gateway=GATEWAY, rows=make_rows())
        with pytest.raises(JournalMismatch, match="against"):
            journal.start(merchant_id=MERCHANT, gateway="http://127.0.0.1:1", rows=make_rows())
        changed = make_rows()
        changed[1] = payout_row(
            {"order_id": "J-1", "amount": "999", "description": "d", "card_number": CARD}, 3
        )
        with pytest.raises(JournalMismatch, match="J-1"):
            journal.start(merchant_id=MERCHANT, gateway=GATEWAY, rows=changed)
        with pytest.raises(JournalMismatch, match="J-2"):
            journal.start(merchant_id=MERCHANT, gateway=GATEWAY, rows=make_rows(2))
        journal.start(merchant_id=MERCHANT, gateway=GATEWAY, rows=make_rows())  # the same: fine
        assert journal.source == "/data/batch.csv"
        assert journal.post_link == "https://shop.example/payouts"


def test_one_process_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with started(path):
        with pytest.raises(JournalBusy):
            Journal(path)
        assert len(Journal.read_report(path).rows) == 3  # reading needs no lock
    Journal(path).close()


def test_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not SQLite at all" * 10)
    with pytest.raises(JournalError, match="not a batch journal"):
        Journal(path)
    with pytest.raises(JournalError, match="no such journal"):
        Journal.read_report(tmp_path / "missing")


def test_report_counts_amounts_and_exports() -> None:
    journal = started(None)
    journal.transition("J-1", RowState.SENDING)
    journal.transition("J-1", RowState.SUCCESS, payment_id=7)
    report = journal.report()
    assert report.counts[RowState.SUCCESS] == 1
    assert report.counts[RowState.PENDING] == 2
    assert report.amounts[RowState.SUCCESS] == Decimal("1.50")
    assert not report.all_succeeded
    assert [row.order_id for row in report.needs_attention] == ["J-0", "J-2"]
    header, *lines = list(report.csv_rows())
    assert header[:3] == ["line", "order_id", "state"]
    assert lines[1][:3] == ["3", "J-1", "success"]
    data = report.as_dict()
    assert data["counts"]["success"] == 1
    assert data["rows"][1]["payment_id"] == 7


ALL_STATES = list(RowState)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(moves=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(ALL_STATES)), max_size=30))
def test_any_sequence_of_changes_is_persisted_exactly(
    tmp_path_factory: pytest.TempPathFactory, moves: list[tuple[int, RowState]]
) -> None:
    path = tmp_path_factory.mktemp("journal") / "j.sqlite"
    with started(path) as journal:
        for index, state in moves:
            with contextlib.suppress(JournalError):  # forbidden: nothing changes
                journal.transition(f"J-{index}", state)
        expected = journal.entries()
        counts = dict(journal.counts)
    with Journal(path) as reopened:
        assert reopened.entries() == expected
        assert dict(reopened.counts) == counts
        assert sum(counts.values()) == 3


def test_outcomes_are_committed_within_the_flush_interval(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with started(path) as journal:
        journal.flush_interval = 0.0
        journal.transition("J-0", RowState.SENDING)
        journal.transition("J-0", RowState.UNKNOWN)
        assert Journal.read_report(path).rows[0].state is RowState.UNKNOWN


def test_a_sending_that_cannot_be_written_is_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with started(path) as journal:
        assert journal._db is not None
        journal._db.execute("PRAGMA query_only = ON")  # every write now fails
        with pytest.raises(JournalError, match="cannot write"):
            journal.transition("J-0", RowState.SENDING)
        assert journal["J-0"].state is RowState.PENDING  # the caller must not send it
        journal._db.execute("PRAGMA query_only = OFF")
    assert Journal.read_report(path).rows[0].state is RowState.PENDING
