"""Payout batches: thousands of payouts with bounded concurrency and a resumable journal.

::

    rows = read_payout_rows("payouts.csv")          # every row checked, or BadRows
    report = await run_payout_batch(client, rows, journal="payouts.journal",
                                    concurrency=50, post_link="https://shop.example/payouts")
    print(report.counts)

Running it again with the same journal resumes the batch without paying anything twice (see
:mod:`freedompay_async.batch._store` for the state machine). The ``freedompay`` command-line
tool (the ``cli`` extra: ``python -m pip install ".[cli]"`` in a clone) is a thin layer over
this module.
"""

from __future__ import annotations

from ._postgres import PostgresJournal
from ._rows import (
    COLUMNS,
    BadRows,
    PayoutRow,
    RowProblem,
    RowsFormat,
    parse_payout_rows,
    payout_row,
    read_payout_rows,
)
from ._runner import PreflightError, check_gateway, run_payout_batch
from ._sqlite import Journal, Synchronous
from ._store import (
    REPORT_COLUMNS,
    BatchReport,
    JournalBusy,
    JournalError,
    JournalMismatch,
    RowResult,
    RowState,
)
from ._worker import PayoutWorker, submit_payout_batch

__all__ = [
    "COLUMNS",
    "REPORT_COLUMNS",
    "BadRows",
    "BatchReport",
    "Journal",
    "JournalBusy",
    "JournalError",
    "JournalMismatch",
    "PayoutRow",
    "PayoutWorker",
    "PostgresJournal",
    "PreflightError",
    "RowProblem",
    "RowResult",
    "RowState",
    "RowsFormat",
    "Synchronous",
    "check_gateway",
    "parse_payout_rows",
    "payout_row",
    "read_payout_rows",
    "run_payout_batch",
    "submit_payout_batch",
]
