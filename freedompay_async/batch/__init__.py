"""Payout batches: thousands of payouts with bounded concurrency and a resumable journal.

::

    rows = read_payout_rows("payouts.csv")          # every row checked, or BadRows
    report = await run_payout_batch(client, rows, journal="payouts.journal",
                                    concurrency=50, post_link="https://shop.example/payouts")
    print(report.counts)

Running it again with the same journal resumes the batch without paying anything twice (see
:mod:`freedompay_async.batch._journal` for the state machine). The ``freedompay`` command-line
tool (``pip install "freedompay-async[cli]"``) is a thin layer over this module.
"""

from __future__ import annotations

from ._journal import (
    REPORT_COLUMNS,
    BatchReport,
    Journal,
    JournalBusy,
    JournalError,
    JournalMismatch,
    RowResult,
    RowState,
    Synchronous,
)
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
from ._runner import PreflightError, run_payout_batch

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
    "PreflightError",
    "RowProblem",
    "RowResult",
    "RowState",
    "RowsFormat",
    "Synchronous",
    "parse_payout_rows",
    "payout_row",
    "read_payout_rows",
    "run_payout_batch",
]
