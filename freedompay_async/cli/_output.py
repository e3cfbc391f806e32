"""What the ``freedompay`` command shows: live progress, summary tables, reports (rich)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import IO

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
)
from rich.table import Table
from rich.text import Text

from ..batch import BadRows, BatchReport, RowResult, RowState
from ..payouts import Balance, Payout

__all__ = [
    "LEGEND",
    "BatchProgress",
    "console",
    "plural",
    "print_bad_rows",
    "print_balance",
    "print_payout",
    "print_summary",
    "report_csv",
    "report_json",
]

_STYLE = {
    RowState.SUCCESS: "green",
    RowState.ERROR: "red",
    RowState.PROCESS: "yellow",
    RowState.UNKNOWN: "magenta",
    RowState.PENDING: "dim",
    RowState.SENDING: "cyan",
}
_ORDER = (
    RowState.SUCCESS,
    RowState.ERROR,
    RowState.PROCESS,
    RowState.UNKNOWN,
    RowState.PENDING,
    RowState.SENDING,
)
_MARK = {
    RowState.SUCCESS: "✓",
    RowState.ERROR: "✗",
    RowState.PROCESS: "…",
    RowState.UNKNOWN: "?",
}
#: What the progress bar's marks mean, printed above it.
LEGEND = (
    "✓ success · ✗ error (refused) · … process (the bank is still working) · "
    "? unknown (the gateway's answer was lost: asked again, never re-sent blindly)"
)
#: Output that is not a terminal (a pipe, a file) is not cut to a width.
_UNLIMITED_WIDTH = 10_000


def console(
    *, stderr: bool = False, file: IO[str] | None = None, soft_wrap: bool = False
) -> Console:
    """A console that wraps to the terminal, and does not wrap at all when piped."""
    screen = Console(stderr=stderr, file=file, highlight=False, soft_wrap=soft_wrap)
    if not screen.is_terminal:
        screen = Console(
            stderr=stderr, file=file, highlight=False, soft_wrap=soft_wrap, width=_UNLIMITED_WIDTH
        )
    return screen


def plural(count: int, word: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class _ClockColumn(ProgressColumn):
    """Seconds since the batch started, as the summary prints them."""

    def __init__(self, started: Callable[[], float]) -> None:
        super().__init__()
        self._started = started

    def render(self, task: Task) -> Text:
        return Text(f"{time.monotonic() - self._started():.1f} s", style="progress.elapsed")


class _RateColumn(ProgressColumn):
    """Rows finished per second since the run started (not a moving estimate)."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        return Text(f"{rate:,.0f} rows/s" if rate else "- rows/s", style="progress.data.speed")


def _states(counts: Mapping[RowState, int]) -> str:
    return " ".join(
        f"[{_STYLE[state]}]{mark}{counts.get(state, 0)}[/]" for state, mark in _MARK.items()
    )


class BatchProgress:
    """A live progress bar: rows done, counts by state, rows per second.

    ``update`` may be called on every state change; it redraws at most ten times a second.
    Disabled (silent) when ``enabled`` is false, e.g. ``--quiet`` or output not on a terminal.
    The legend of its marks is printed above it; its clock starts when the batch does, so it
    ends where the summary's seconds are.
    """

    def __init__(self, console: Console, total: int, *, enabled: bool) -> None:
        self._console = console
        self._enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]payouts"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[states]}"),
            _RateColumn(),
            _ClockColumn(lambda: self._started),
            console=console,
            disable=not enabled,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._total = total
        self._task = self._progress.add_task("payouts", total=total, states="", rate=0.0)
        self._started = time.monotonic()
        self._done_at_start: int | None = None
        self._last = 0.0

    def __enter__(self) -> BatchProgress:
        if self._enabled:
            self._console.print(LEGEND, style="dim", highlight=False)
        self._started = time.monotonic()
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, counts: Mapping[RowState, int], *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        done = self._total - counts.get(RowState.PENDING, 0) - counts.get(RowState.SENDING, 0)
        if self._done_at_start is None:
            self._done_at_start = done
        elapsed = now - self._started
        rate = (done - self._done_at_start) / elapsed if elapsed > 0 else 0.0
        self._progress.update(self._task, completed=done, states=_states(counts), rate=rate)


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def print_summary(
    console: Console,
    report: BatchReport,
    *,
    journal: str,
    sent_rate: float | None = None,
    attention_rows: int = 10,
) -> None:
    """The summary table (rows and amounts by state), then the first ``attention_rows`` rows
    needing attention, with where to find them all."""
    counts, amounts = report.counts, report.amounts
    table = Table(title=f"Payout batch: {plural(len(report.rows), 'row')}", title_justify="left")
    table.add_column("state")
    table.add_column("rows", justify="right")
    table.add_column("amount", justify="right")
    for state in _ORDER:
        if counts[state] or state in _MARK:
            table.add_row(
                f"[{_STYLE[state]}]{state.value}[/]", f"{counts[state]:,}", _money(amounts[state])
            )
    table.add_section()
    table.add_row("total", f"{len(report.rows):,}", _money(sum(amounts.values(), Decimal(0))))
    console.print(table)
    facts = [f"journal {journal}"]
    if report.elapsed is not None:
        facts.append(f"{report.elapsed:.1f} s")
    if sent_rate:
        facts.append(f"{sent_rate:,.0f} rows/s")
    console.print(" · ".join(facts), highlight=False, markup=False)
    if report.stopped:
        console.print(f"[bold red]stopped:[/] {report.stopped}", highlight=False)
    attention = report.needs_attention
    if not attention:
        return
    title = f"Rows needing attention: {len(attention):,}"
    if len(attention) > attention_rows:
        title += f" (the first {attention_rows:,} shown)"
    console.print(_rows_table(title, attention[:attention_rows]))
    if len(attention) > attention_rows:
        console.print(
            f"every row: freedompay payouts report {journal} (or --format csv / json)",
            highlight=False,
            markup=False,
        )


def print_report(console: Console, report: BatchReport, *, journal: str) -> None:
    """The summary table, then every row of the batch."""
    print_summary(console, report, journal=journal, attention_rows=0)
    console.print(_rows_table(f"Rows: {len(report.rows):,}", report.rows))


def _rows_table(title: str, shown: Sequence[RowResult]) -> Table:
    rows = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    # Order ids and destinations stay whole; the description takes what width is left.
    rows.add_column("line", justify="right", no_wrap=True, min_width=4)
    longest_id = max((len(row.order_id) for row in shown), default=8)
    rows.add_column("order id", no_wrap=True, min_width=min(32, longest_id))
    rows.add_column("state", no_wrap=True, min_width=7)
    rows.add_column("payment id", justify="right", no_wrap=True)
    rows.add_column("code", justify="right", no_wrap=True, min_width=5)
    longest_destination = max((len(row.destination) for row in shown), default=11)
    rows.add_column("destination", no_wrap=True, min_width=min(28, longest_destination))
    rows.add_column("error", no_wrap=True, overflow="ellipsis")
    for row in shown:
        rows.add_row(
            str(row.line),
            row.order_id,
            f"[{_STYLE[row.state]}]{row.state.value}[/]",
            "" if row.payment_id is None else str(row.payment_id),
            "" if row.error_code is None else str(row.error_code),
            row.destination,
            row.error_description or "",
        )
    return rows


def print_bad_rows(console: Console, error: BadRows, *, limit: int = 50) -> None:
    """Every bad row with its line number (the first ``limit``), on the error console."""
    source = error.source or "the input"
    rows = [problem for problem in error.problems if problem.line]
    if not rows:  # the file as a whole (no rows at all)
        for problem in error.problems:
            console.print(f"[bold red]{source}[/]: {problem.message}; nothing was sent")
        return
    console.print(
        f"[bold red]{plural(len(error.problems), 'bad row')}[/] in {source}; nothing was sent:",
        highlight=False,
    )
    for problem in error.problems[:limit]:
        console.print(f"  {problem}", highlight=False, markup=False)
    if len(error.problems) > limit:
        console.print(f"  ... and {len(error.problems) - limit} more", highlight=False)


def report_csv(report: BatchReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(report.csv_rows())
    return buffer.getvalue()


def report_json(report: BatchReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def print_payout(console: Console, payout: Payout) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    fields = {
        "order id": payout.order_id,
        "payment id": payout.payment_id,
        "state": payout.state.value,
        "amount": payout.amount,
        "card": payout.card_hash,
        "date": payout.payment_date.isoformat() if payout.payment_date else None,
        "error code": payout.error_code,
        "error": payout.error_description,
    }
    for name, value in fields.items():
        if value is not None:
            table.add_row(name, str(value))
    console.print(table)


def print_balance(console: Console, balance: Balance) -> None:
    console.print(f"{_money(balance.amount)} {balance.currency or ''}".rstrip(), highlight=False)
