"""``payouts submit``, ``payouts worker``, ``payouts watch`` and the PostgreSQL side of ``payouts
run`` / ``resume`` / ``report``: one batch in a PostgreSQL journal, paid by many workers.

Imported at the end of :mod:`._payouts` (it adds commands to its ``payouts`` group).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ..batch import (
    BatchReport,
    Journal,
    JournalError,
    PayoutRow,
    PayoutWorker,
    PostgresJournal,
    PreflightError,
    RowState,
    submit_payout_batch,
)
from ..batch._postgres import is_postgres_url
from ..errors import FreedomPayError, SecretKeyRejected, ValidationError
from ..payouts import PayoutPolicy
from ..telemetry import Telemetry
from . import _output
from ._connect import EMULATOR_POST_LINK, Gateway, connect, gateway_options, run_async
from ._exit import EXIT_CODES, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS, EXIT_USAGE
from ._payouts import (
    JournalUnusable,
    _batch_options,
    _Interrupt,
    _policy_options,
    _read_rows,
    _watch_signals,
    grace_refused,
    metrics_served,
    payouts,
    refuse_batch_option,
)

__all__ = ["execute_postgres", "report_postgres"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$")


def _seconds(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 1.5s or 2m")
    value, unit = float(match.group(1)), match.group(2) or "s"
    seconds = value / 1000 if unit == "ms" else value * 60 if unit in ("m", "min") else value
    if seconds <= 0:
        raise click.BadParameter("must be positive")
    return seconds


def where(url: str) -> str:
    """A journal URL without its password (for messages and summaries)."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{at}{host}" if at else url


@attrs.frozen(slots=True)
class _PgJob:
    gateway: Gateway
    policy: PayoutPolicy
    rows: Sequence[PayoutRow]
    url: str
    batch_id: str | None
    source: str
    post_link: str | None
    concurrency: int
    wait: bool
    status_preflight: bool
    lease: float
    max_rate: float | None
    quiet: bool
    telemetry: Telemetry | None = None


async def _pg_main(job: _PgJob, err: Console) -> tuple[BatchReport | None, bool, str | None]:
    stop = anyio.Event()
    interrupt = _Interrupt()
    progress = _output.BatchProgress(err, len(job.rows), enabled=not job.quiet and err.is_terminal)
    report: BatchReport | None = None
    batch_id = job.batch_id
    failure: FreedomPayError | None = None
    post_link = job.post_link or (EMULATOR_POST_LINK if job.gateway.emulator else None)
    with anyio.CancelScope() as abort:
        async with (
            connect(
                job.gateway,
                connection_limit=job.concurrency,
                policy=job.policy,
                telemetry=job.telemetry,
            ) as (client, label),
            anyio.create_task_group() as group,
        ):
            group.start_soon(_watch_signals, stop, abort, interrupt, err)
            with progress:
                try:
                    async with PostgresJournal(job.url) as db:
                        if batch_id is None:
                            batch_id = await submit_payout_batch(
                                client, job.rows, db, gateway=label, source=job.source,
                                post_link=post_link, max_rate=job.max_rate,
                            )  # fmt: skip
                        worker = PayoutWorker(
                            client, db, batch_id, job.rows, concurrency=job.concurrency,
                            lease=job.lease, wait=job.wait, status_preflight=job.status_preflight,
                            post_link=post_link, on_progress=progress.update, stop=stop,
                            gateway=label,
                        )  # fmt: skip
                        report = await worker.run()
                except (JournalError, ValidationError, PreflightError, SecretKeyRejected) as exc:
                    failure = exc
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if report is not None and interrupt.requested and report.stopped == "stop requested":
        report = attrs.evolve(report, stopped="interrupted")
    return report, interrupt.requested, batch_id


def execute_postgres(
    *,
    gateway: Gateway,
    policy: PayoutPolicy,
    rows: Sequence[PayoutRow],
    url: str,
    batch_id: str | None,
    source: Path,
    post_link: str | None,
    concurrency: int,
    wait: bool,
    status_preflight: bool,
    lease: float,
    max_rate: float | None,
    quiet: bool,
    telemetry: Telemetry | None = None,
) -> int:
    """Submit (unless ``batch_id`` is given) and work on a batch in a PostgreSQL journal as
    one worker; the exit status of ``payouts run``."""
    out = _output.console()
    err = _output.console(stderr=True, soft_wrap=True)
    if grace_refused(policy, gateway, err):
        return EXIT_USAGE
    job = _PgJob(
        gateway, policy, rows, url, batch_id, str(source.resolve()), post_link, concurrency,
        wait, status_preflight, lease, max_rate, quiet, telemetry,
    )  # fmt: skip
    try:
        report, interrupted, batch_id = run_async(_pg_main, job, err)
    except (JournalError, ValidationError, PreflightError, SecretKeyRejected) as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_USAGE
    resume = f"freedompay payouts worker --journal {where(url)} --batch {batch_id} --file {source}"
    if report is None:
        err.print(f"aborted; resume with: {resume}", markup=False)
        out.print(f"batch {batch_id}")
        return EXIT_INTERRUPTED
    if quiet:
        counts = ", ".join(f"{n:,} {s.value}" for s, n in report.counts.items() if n)
        out.print(f"{len(report.rows):,} rows: {counts}")
    else:
        _output.print_summary(out, report, journal=f"{where(url)} batch {batch_id}")
    unfinished = any(
        report.counts[state]
        for state in (RowState.PENDING, RowState.SENDING, RowState.UNKNOWN, RowState.PROCESS)
    )
    if unfinished:
        err.print(f"resume with: {resume}", markup=False)
    out.print(f"batch {batch_id}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.all_succeeded else EXIT_ROWS


async def _report(url: str, batch_id: str) -> BatchReport:
    async with PostgresJournal(url) as db:
        return await db.report(batch_id)


def report_postgres(url: str, batch_id: str | None) -> BatchReport:
    if not batch_id:
        raise click.UsageError("a PostgreSQL journal holds many batches: pass --batch ID")
    try:
        report: BatchReport = run_async(_report, url, batch_id)
    except JournalError as exc:
        raise JournalUnusable(str(exc)) from None
    return report


# -- payouts submit / worker ---------------------------------------------------------------------


@payouts.command("submit", epilog=EXIT_CODES)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--journal", "url", required=True, metavar="URL", help="postgresql://USER@HOST/DB")
@click.option("--format", "rows_format", type=click.Choice(["csv", "jsonl"]))
@click.option(
    "--post-link",
    envvar="FREEDOMPAY_POST_LINK",
    show_envvar=True,
    help="Notification URL for rows without a post_link column.",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Requests per second to the gateway, shared by the batch's live workers.",
)
@gateway_options
def submit_command(
    file: Path,
    url: str,
    rows_format: str | None,
    post_link: str | None,
    max_rate: float | None,
    gateway: Gateway,
) -> None:
    """Check every row of FILE, prove the keys with a balance request, and store the batch in
    the PostgreSQL journal URL for `payouts worker` to pay. Prints the batch id as the last
    line. The same file again prints the same id and adds nothing; a row whose order id is in
    another batch is refused before anything is stored."""
    if not is_postgres_url(url):
        raise click.UsageError("--journal must be a postgresql:// URL")
    rows = _read_rows(file, rows_format)
    gateway.check()
    post_link = post_link or (EMULATOR_POST_LINK if gateway.emulator else None)
    if post_link is None and any(row.post_link is None for row in rows):
        raise click.UsageError(
            "rows without a post_link column need --post-link (or FREEDOMPAY_POST_LINK)"
        )

    source = str(file.resolve())

    async def submit() -> str:
        async with connect(gateway) as (client, label), PostgresJournal(url) as db:
            return await submit_payout_batch(
                client, rows, db, gateway=label, source=source,
                post_link=post_link, max_rate=max_rate,
            )  # fmt: skip

    try:
        batch_id = run_async(submit)
    except (JournalError, ValidationError, PreflightError, SecretKeyRejected) as exc:
        _output.console(stderr=True, soft_wrap=True).print(f"error: {exc}", markup=False)
        raise click.exceptions.Exit(EXIT_USAGE) from None
    click.echo(f"{len(rows):,} rows in batch")
    click.echo(batch_id)


def _worker_options(command: Any) -> Any:
    command = click.option(
        "--lease",
        default="30s",
        show_default=True,
        help="How long this worker's claim lasts without a heartbeat (renewed every third); "
        "unable to renew for half of it, the worker stops starting requests.",
        callback=lambda _context, _parameter, value: _seconds(value),
    )(command)
    return click.option(
        "--max-rate",
        type=click.FloatRange(min=0, min_open=True),
        help="Requests per second to the gateway for the whole batch (shared by live workers).",
    )(command)


@payouts.command("worker", epilog=EXIT_CODES)
@click.option("--journal", "url", required=True, metavar="URL", help="postgresql://USER@HOST/DB")
@click.option("--batch", "batch_id", required=True, help="The id `payouts submit` printed.")
@click.option(
    "--file",
    "rows_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The batch's input file.  [default: the path recorded at submission]",
)
@click.option("--format", "rows_format", type=click.Choice(["csv", "jsonl"]))
@_worker_options
@_batch_options
@_policy_options
@gateway_options
def worker_command(
    url: str,
    batch_id: str,
    rows_file: Path | None,
    rows_format: str | None,
    lease: float,
    max_rate: float | None,
    concurrency: int,
    post_link: str | None,
    wait: bool,
    synchronous: str,
    status_preflight: bool,
    quiet: bool,
    metrics_port: int | None,
    metrics_host: str,
    policy: PayoutPolicy,
    gateway: Gateway,
) -> None:
    """Claim and pay rows of batch BATCH until none is left this worker can act on. Run as
    many as you like, on any machine. Rows whose worker died are reconciled through the status
    endpoint once its lease expires, never sent blindly. SIGTERM / Ctrl-C: stop claiming, let
    the rows in flight finish (twice: abort). The journal holds no card numbers: the file is
    read here and checked against the batch's digests."""
    if not is_postgres_url(url):
        raise click.UsageError("--journal must be a postgresql:// URL")
    source = rows_file or _recorded_source(url, batch_id)
    rows = _read_rows(source, rows_format)
    gateway.check()
    with metrics_served(metrics_port, metrics_host) as telemetry:
        raise click.exceptions.Exit(
            execute_postgres(
                gateway=gateway,
                policy=policy,
                rows=rows,
                url=url,
                batch_id=batch_id,
                source=source,
                post_link=post_link,
                concurrency=concurrency,
                wait=wait,
                status_preflight=status_preflight,
                lease=lease,
                max_rate=max_rate,
                quiet=quiet,
                telemetry=telemetry,
            )
        )


def _recorded_source(url: str, batch_id: str) -> Path:
    async def read() -> str:
        async with PostgresJournal(url) as db:
            return str((await db.batch(batch_id))["source"] or "")

    try:
        recorded = run_async(read)
    except JournalError as exc:
        raise JournalUnusable(str(exc)) from None
    if not recorded or not Path(recorded).is_file():
        raise click.UsageError(
            f"the batch's input file {recorded or '(not recorded)'} is not here: pass --file"
        )
    return Path(recorded)


# -- payouts watch -------------------------------------------------------------------------------


async def _snapshot(journal: str, batch_id: str | None) -> tuple[BatchReport, list[Any]]:
    if is_postgres_url(journal):
        assert batch_id is not None
        async with PostgresJournal(journal, max_connections=1) as db:
            return await db.report(batch_id), await db.workers(batch_id)
    return Journal.read_report(journal), []


def _view(report: BatchReport, workers: list[Any], rate: float, title: str) -> Group:
    counts = report.counts
    states = Table(title=title, title_justify="left")
    for state in RowState:
        states.add_column(state.value, justify="right")
    states.add_column("rows/s", justify="right")
    states.add_row(*(f"{counts[state]:,}" for state in RowState), f"{rate:,.1f}")
    parts: list[Any] = [states]
    if workers:
        table = Table(title="workers", title_justify="left")
        table.add_column("worker")
        table.add_column("heartbeat age", justify="right")
        table.add_column("lease")
        for worker_id, age, live in workers:
            table.add_row(worker_id, f"{age:.1f} s", "live" if live else "expired / stopped")
        parts.append(table)
    return Group(*parts)


@payouts.command("watch")
@click.argument("journal", metavar="JOURNAL")
@click.option("--batch", "batch_id", help="The batch (PostgreSQL journals).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True)
@click.option("--once", is_flag=True, help="Print the current state once and exit.")
def watch_command(journal: str, batch_id: str | None, interval: float, once: bool) -> None:
    """Live view of a batch: rows by state, rows/s, each worker's heartbeat age. Ends when
    every row is final (or Ctrl-C). JOURNAL is a SQLite journal file or a postgresql:// URL."""
    if is_postgres_url(journal):
        if not batch_id:
            raise click.UsageError("a PostgreSQL journal holds many batches: pass --batch ID")
    else:
        refuse_batch_option(journal, batch_id)
        if not Path(journal).is_file():
            raise click.UsageError(f"{journal}: no such journal")
    title = f"batch {batch_id}" if batch_id else journal
    console = _output.console()

    async def watch() -> None:
        report, workers = await _snapshot(journal, batch_id)
        if once:
            console.print(_view(report, workers, 0.0, title))
            return
        done_before = sum(1 for row in report.rows if row.state.is_final)
        started = time.monotonic()
        with Live(_view(report, workers, 0.0, title), console=console, auto_refresh=False) as live:
            while not all(row.state.is_final for row in report.rows):
                await anyio.sleep(interval)
                report, workers = await _snapshot(journal, batch_id)
                done = sum(1 for row in report.rows if row.state.is_final)
                rate = (done - done_before) / max(time.monotonic() - started, 1e-9)
                live.update(_view(report, workers, rate, title), refresh=True)

    try:
        run_async(watch)
    except JournalError as exc:
        raise JournalUnusable(str(exc)) from None
    except KeyboardInterrupt:
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
