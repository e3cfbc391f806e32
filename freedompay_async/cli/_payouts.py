"""``freedompay payouts``: batches (run, resume, report) and the status of one payout."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio
import anyio.abc
import attrs
import click
from rich.console import Console

from ..batch import (
    BadRows,
    BatchReport,
    Journal,
    JournalError,
    PayoutRow,
    PreflightError,
    RowState,
    read_payout_rows,
    run_payout_batch,
)
from ..batch._postgres import is_postgres_url
from ..errors import (
    ConfigurationError,
    FreedomPayError,
    SecretKeyRejected,
    TransactionNotFound,
    ValidationError,
)
from ..payouts import PayoutPolicy
from ..telemetry import Telemetry, serve_prometheus
from . import _output
from ._connect import (
    EMULATOR_POST_LINK,
    Gateway,
    connect,
    failure,
    gateway_options,
    run_async,
)
from ._exit import EXIT_CODES, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS, EXIT_USAGE

__all__ = ["payouts"]

F = TypeVar("F", bound=Callable[..., Any])

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _policy_options(command: F) -> F:
    """Add payout polling options; the command receives ``policy=PayoutPolicy(...)``."""
    default = PayoutPolicy()

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["policy"] = PayoutPolicy(
            poll_initial=kwargs.pop("poll_initial"),
            poll_max=kwargs.pop("poll_max"),
            wait_deadline=kwargs.pop("wait_deadline"),
            reconcile_deadline=kwargs.pop("reconcile_deadline"),
            not_found_grace=kwargs.pop("not_found_grace"),
        )
        return command(*args, **kwargs)

    seconds = click.FloatRange(min=0, min_open=True)
    options = [
        click.option(
            "--poll-initial",
            type=seconds,
            default=default.poll_initial,
            show_default=True,
            help="First status poll after about this long (seconds; then ever longer, with "
            "jitter).",
        ),
        click.option(
            "--poll-max",
            type=seconds,
            default=default.poll_max,
            show_default=True,
            help="Longest wait between status polls.",
        ),
        click.option(
            "--wait-deadline",
            type=seconds,
            default=default.wait_deadline,
            show_default=True,
            help="How long to poll a process payout; after it the row stays process.",
        ),
        click.option(
            "--reconcile-deadline",
            type=seconds,
            default=default.reconcile_deadline,
            show_default=True,
            help="How long to ask the status of a payout whose outcome is unknown.",
        ),
        click.option(
            "--not-found-grace",
            type=click.FloatRange(0),
            default=default.not_found_grace,
            show_default=True,
            help="Journal only: a row the gateway says it does not know is sent again only "
            "once its last send started this long ago (at least --timeout).",
        ),
    ]
    result: Callable[..., Any] = wrapper
    for option in reversed(options):
        result = option(result)
    return cast(F, result)


class JournalUnusable(click.ClickException):
    """A journal (or a report's output file) that cannot be read or written: one line, exit 2
    (nothing was sent)."""

    exit_code = EXIT_USAGE


def refuse_batch_option(journal_name: str, batch_id: str | None) -> None:
    """A SQLite journal is one batch: ``--batch`` with it is a mistake, not something to ignore."""
    if batch_id is not None:
        raise click.UsageError(
            f"--batch names a batch in a PostgreSQL journal; {journal_name} is a SQLite "
            "journal, which holds one batch"
        )


@click.group(epilog=EXIT_CODES)
def payouts() -> None:
    """Payout batches (run, resume, report, watch; submit and worker on PostgreSQL) and the
    status of one payout."""


# -- payouts run / resume ----------------------------------------------------------------------


@attrs.define
class _Interrupt:
    requested: bool = False


async def _watch_signals(
    stop: anyio.Event,
    abort: anyio.CancelScope,
    flag: _Interrupt,
    err: Console,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """First SIGINT/SIGTERM: start no new rows; the second: abort at once.

    Listens until cancelled, so that no later signal falls through to a KeyboardInterrupt
    in the middle of closing the client."""
    try:
        receiver = anyio.open_signal_receiver(*_STOP_SIGNALS)
    except NotImplementedError:  # pragma: no cover - Windows: Ctrl-C cancels as usual
        task_status.started()
        return
    with receiver as signals:
        task_status.started()
        async for _ in signals:
            flag.requested = True
            if abort.cancel_called:
                continue
            if stop.is_set():
                err.print("[bold red]aborting[/]: rows in flight stay in doubt until resumed")
                abort.cancel()
                continue
            err.print(
                "[bold yellow]stopping[/]: no new rows; waiting for the rows in flight "
                "(Ctrl-C again to abort now)"
            )
            stop.set()


@attrs.frozen(slots=True)
class _BatchJob:
    gateway: Gateway
    policy: PayoutPolicy
    rows: Sequence[PayoutRow]
    journal: Journal
    source: str
    post_link: str | None
    concurrency: int
    wait: bool
    status_preflight: bool
    max_rate: float | None
    quiet: bool
    telemetry: Telemetry | None = None


def _finished(counts: Mapping[RowState, int]) -> int:
    return sum(counts.values()) - counts[RowState.PENDING] - counts[RowState.SENDING]


async def _batch_main(job: _BatchJob, err: Console) -> tuple[BatchReport, bool]:
    """Run the batch; signals are watched from the start, before the gateway is connected.

    ``abort`` covers the batch only, so that an abort still closes the client and the
    embedded emulator properly.
    """
    stop = anyio.Event()
    interrupt = _Interrupt()
    abort = anyio.CancelScope()
    journal = job.journal
    progress = _output.BatchProgress(err, len(job.rows), enabled=not job.quiet and err.is_terminal)
    report: BatchReport | None = None
    failure: FreedomPayError | None = None
    post_link = job.post_link or (EMULATOR_POST_LINK if job.gateway.emulator else None)
    async with anyio.create_task_group() as group:
        await group.start(_watch_signals, stop, abort, interrupt, err)
        async with connect(
            job.gateway,
            connection_limit=job.concurrency,
            policy=job.policy,
            telemetry=job.telemetry,
        ) as (client, label):
            with abort, progress:
                try:
                    report = await run_payout_batch(
                        client,
                        job.rows,
                        journal=journal,
                        concurrency=job.concurrency,
                        post_link=post_link,
                        wait=job.wait,
                        status_preflight=job.status_preflight,
                        max_rate=job.max_rate,
                        source=job.source,
                        gateway=label,
                        on_progress=progress.update,
                        stop=stop,
                    )
                except (JournalError, ValidationError, PreflightError, SecretKeyRejected) as exc:
                    failure = exc  # raised below, not wrapped in the task group's group
                progress.update(journal.counts, force=True)
        group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if report is None:
        report = journal.report(stopped="aborted")
    elif interrupt.requested and report.stopped == "stop requested":
        report = attrs.evolve(report, stopped="interrupted")
    return report, interrupt.requested


def _forget_journal(path: Path) -> None:
    """Remove a journal this command created and nothing was sent from, so that the same
    ``run`` can simply be repeated."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def metrics_served(port: int | None, host: str) -> Iterator[Telemetry | None]:
    """With ``--metrics-port``: the batch's metrics at ``http://host:port/metrics``."""
    if port is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            telemetry = stack.enter_context(serve_prometheus(port, host))
        except (ConfigurationError, OSError) as exc:
            raise click.UsageError(f"--metrics-port: {exc}") from None
        Console(stderr=True).print(f"metrics: http://{host}:{port}/metrics", markup=False)
        yield telemetry


def grace_refused(policy: PayoutPolicy, gateway: Gateway, err: Console) -> bool:
    """Refuse (one line on ``err``) a not-found grace under the request timeout: a payout
    still in flight could then be sent again."""
    if policy.not_found_grace >= gateway.timeout:
        return False
    err.print(
        f"error: --not-found-grace {policy.not_found_grace:g} is under the request timeout "
        f"(--timeout {gateway.timeout:g} s): a payout still in flight could be sent twice",
        markup=False,
    )
    return True


def _execute_batch(
    *,
    gateway: Gateway,
    policy: PayoutPolicy,
    rows: Sequence[PayoutRow],
    journal_path: Path,
    source: Path,
    post_link: str | None,
    concurrency: int,
    wait: bool,
    synchronous: str,
    status_preflight: bool,
    quiet: bool,
    creating: bool,
    max_rate: float | None = None,
    telemetry: Telemetry | None = None,
) -> int:
    """Run or resume the batch and report; returns the exit status.

    Hints are printed only where they work: ``resume`` after a run that left rows to finish,
    never after a refusal that a resume would meet again.
    """
    out = _output.console()
    err = _output.console(stderr=True, soft_wrap=True)  # an error is one line
    if grace_refused(policy, gateway, err):
        return EXIT_USAGE
    try:
        journal = Journal(journal_path, synchronous="FULL" if synchronous == "full" else "NORMAL")
    except JournalError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        if creating:
            _forget_journal(journal_path)
        raise
    job = _BatchJob(
        gateway,
        policy,
        rows,
        journal,
        str(source.resolve()),
        post_link,
        concurrency,
        wait,
        status_preflight,
        max_rate,
        quiet,
        telemetry,
    )
    attempts_before = sum(row.attempts for row in journal.entries())
    finished_before = _finished(journal.counts)
    resume_hint = f"resume with: freedompay payouts resume {journal_path}"
    try:
        try:
            report, interrupted = run_async(_batch_main, job, err)
        except KeyboardInterrupt:  # a signal before the watcher listened
            report, interrupted = journal.report(stopped="aborted"), True
    except (JournalError, ValidationError, PreflightError, SecretKeyRejected) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        if isinstance(exc, SecretKeyRejected):  # nothing was paid: fix the key, resume
            journal.close()
            err.print(resume_hint, markup=False)
            return EXIT_USAGE
        untouched = sum(row.attempts for row in journal.entries()) == attempts_before
        journal.close()
        if not untouched:  # some rows went out: the journal knows which, resume finishes
            err.print(resume_hint, markup=False)
            return EXIT_ROWS
        if creating:
            _forget_journal(journal_path)
        if isinstance(exc, PreflightError):
            err.print(
                "nothing was sent: check the credentials and the gateway address, then run "
                "the same command again"
            )
        else:
            err.print("nothing was sent")
        return EXIT_USAGE
    finally:
        journal.close()
    with _signals_ignored():  # the batch is over: a late Ctrl-C must not cut the summary
        if not report.rows:  # interrupted before the batch was recorded
            if creating:
                _forget_journal(journal_path)
            err.print("interrupted before the batch started: nothing was sent")
            return EXIT_INTERRUPTED
        finished = _finished(report.counts) - finished_before
        rate = finished / report.elapsed if report.elapsed else None
        if quiet:
            counts = ", ".join(
                f"{count:,} {state.value}" for state, count in report.counts.items() if count
            )
            out.print(f"{_output.plural(len(report.rows), 'row')}: {counts}")
        else:
            _output.print_summary(out, report, journal=str(journal_path), sent_rate=rate)
        unfinished = any(
            report.counts[state]
            for state in (RowState.PENDING, RowState.SENDING, RowState.UNKNOWN, RowState.PROCESS)
        )
        if unfinished:
            err.print(resume_hint, markup=False)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.all_succeeded else EXIT_ROWS


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored within the block (restored after it)."""
    if threading.current_thread() is not threading.main_thread():  # only main may set them
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _read_rows(path: Path, rows_format: str | None) -> Sequence[PayoutRow]:
    err = _output.console(stderr=True)
    try:
        return read_payout_rows(path, format=cast(Any, rows_format))
    except BadRows as exc:
        _output.print_bad_rows(err, exc)
        raise click.exceptions.Exit(EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {path}: {exc}") from None


def _batch_options(command: F) -> F:
    options = [
        click.option(
            "--concurrency",
            type=click.IntRange(1, 1000),
            default=20,
            show_default=True,
            help="Rows in flight at once.",
        ),
        click.option(
            "--post-link",
            envvar="FREEDOMPAY_POST_LINK",
            show_envvar=True,
            help="Notification URL for rows without a post_link column "
            "(default with --emulator: a closed local port).",
        ),
        click.option(
            "--wait/--no-wait",
            default=True,
            show_default=True,
            help="Poll process payouts until final (--wait-deadline).",
        ),
        click.option(
            "--synchronous",
            type=click.Choice(["normal", "full"]),
            default="normal",
            show_default=True,
            help="Journal durability: normal survives a crash of the process, full also a "
            "power loss (an fsync per row change).",
        ),
        click.option(
            "--status-preflight/--no-status-preflight",
            default=True,
            show_default=True,
            help="Ask the gateway about rows never sent from this journal before sending them "
            "(an order it knows, e.g. from the same file under another journal, is not paid "
            "again). Skip it only knowingly.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar, a one-line summary."),
        click.option(
            "--metrics-port",
            type=click.IntRange(1, 65535),
            help="Serve the batch's metrics for Prometheus at http://HOST:PORT/metrics "
            "(needs the 'prometheus' extra: python -m pip install \".[prometheus]\").",
        ),
        click.option(
            "--metrics-host",
            default="127.0.0.1",
            show_default=True,
            help="The address --metrics-port listens on (0.0.0.0: every interface).",
        ),
    ]
    result: Callable[..., Any] = command
    for option in reversed(options):
        result = option(result)
    return cast(F, result)


@payouts.command("run", epilog=EXIT_CODES)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--journal",
    "journal_name",
    metavar="PATH|URL",
    help="The batch journal: a SQLite file to create, or a postgresql:// URL (submit the "
    "batch there and work on it as one worker).  [default: FILE.journal]",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Requests per second to the gateway (on PostgreSQL shared by the batch's workers).",
)
@click.option(
    "--format",
    "rows_format",
    type=click.Choice(["csv", "jsonl"]),
    help="Input format.  [default: from the extension]",
)
@_batch_options
@_policy_options
@gateway_options
def run_command(
    file: Path,
    journal_name: str | None,
    max_rate: float | None,
    rows_format: str | None,
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
    """Pay out every row of FILE (CSV with a header, or JSONL).

    Columns: order_id, amount, description, and one of card_number, card_token or card_id
    (the last two with user_id); optional currency, card_name, post_link. Every row is checked
    first - bad amounts, card numbers failing the Luhn check, duplicate order ids - and
    reported with its line number before anything is sent.

    Each row's state is committed to the journal before its request goes out, so a crash or
    Ctrl-C never loses track of a payout: `payouts resume JOURNAL` finishes the batch without
    paying any row twice.
    """
    rows = _read_rows(file, rows_format)
    if is_postgres_url(journal_name):
        assert journal_name is not None
        gateway.check()
        with metrics_served(metrics_port, metrics_host) as telemetry:
            raise click.exceptions.Exit(
                _journals.execute_postgres(
                    gateway=gateway,
                    policy=policy,
                    rows=rows,
                    url=journal_name,
                    batch_id=None,
                    source=file,
                    post_link=post_link,
                    concurrency=concurrency,
                    wait=wait,
                    status_preflight=status_preflight,
                    lease=30.0,
                    max_rate=max_rate,
                    quiet=quiet,
                    telemetry=telemetry,
                )
            )
    journal_path = Path(journal_name) if journal_name else file.with_name(file.name + ".journal")
    if journal_path.exists():
        raise click.UsageError(
            f"journal {journal_path} already exists: continue that batch with "
            f"`freedompay payouts resume {journal_path}`, or choose another --journal"
        )
    gateway.check()
    if not (post_link or gateway.emulator) and any(row.post_link is None for row in rows):
        raise click.UsageError(
            "rows without a post_link column need --post-link (or FREEDOMPAY_POST_LINK)"
        )
    with metrics_served(metrics_port, metrics_host) as telemetry:
        raise click.exceptions.Exit(
            _execute_batch(
                gateway=gateway,
                policy=policy,
                rows=rows,
                journal_path=journal_path,
                source=file,
                post_link=post_link,
                concurrency=concurrency,
                wait=wait,
                synchronous=synchronous,
                status_preflight=status_preflight,
                quiet=quiet,
                creating=True,
                max_rate=max_rate,
                telemetry=telemetry,
            )
        )


@payouts.command("resume", epilog=EXIT_CODES)
@click.argument("journal_name", metavar="JOURNAL")
@click.option("--batch", "batch_id", help="The batch, in a PostgreSQL journal.")
@click.option(
    "--file",
    "rows_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The batch's input file.  [default: the path recorded in the journal]",
)
@click.option("--format", "rows_format", type=click.Choice(["csv", "jsonl"]))
@_batch_options
@_policy_options
@gateway_options
def resume_command(
    journal_name: str,
    batch_id: str | None,
    rows_file: Path | None,
    rows_format: str | None,
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
    """Finish the batch of JOURNAL after a crash, Ctrl-C or a partial run.

    Rows that may have reached the gateway (sending, unknown, process) are first asked about
    through the status endpoint; one is sent again only when the gateway says it does not
    know it and its last send started more than --not-found-grace seconds ago. Rows never
    sent are sent; final rows are left alone. The journal keeps no card numbers, so the input
    file is read again and must still hold the same rows. JOURNAL may be a postgresql:// URL
    with --batch: this process then works on the batch as one more worker.
    """
    if is_postgres_url(journal_name):
        recorded = _journals.report_postgres(journal_name, batch_id)
    else:
        refuse_batch_option(journal_name, batch_id)
        journal_path = Path(journal_name)
        if not journal_path.is_file():
            raise click.UsageError(f"{journal_name}: no such journal")
    try:
        recorded = recorded if is_postgres_url(journal_name) else Journal.read_report(journal_path)
    except JournalError as exc:
        raise JournalUnusable(str(exc)) from None
    source = rows_file or (Path(recorded.source) if recorded.source else None)
    if source is None and not recorded.rows:
        raise click.UsageError(
            "the journal holds no batch yet (the run stopped before it began): "
            "pass the input file with --file"
        )
    if source is None or not source.is_file():
        raise click.UsageError(
            f"the batch's input file {recorded.source or '(not recorded)'} is not there: "
            "pass it with --file"
        )
    rows = _read_rows(source, rows_format)
    gateway.check()
    with metrics_served(metrics_port, metrics_host) as telemetry:
        if is_postgres_url(journal_name):
            raise click.exceptions.Exit(
                _journals.execute_postgres(
                    gateway=gateway,
                    policy=policy,
                    rows=rows,
                    url=journal_name,
                    batch_id=batch_id,
                    source=source,
                    post_link=post_link,
                    concurrency=concurrency,
                    wait=wait,
                    status_preflight=status_preflight,
                    lease=30.0,
                    max_rate=None,
                    quiet=quiet,
                    telemetry=telemetry,
                )
            )
        raise click.exceptions.Exit(
            _execute_batch(
                gateway=gateway,
                policy=policy,
                rows=rows,
                journal_path=journal_path,
                source=source,
                post_link=post_link,
                concurrency=concurrency,
                wait=wait,
                synchronous=synchronous,
                status_preflight=status_preflight,
                quiet=quiet,
                creating=False,
                telemetry=telemetry,
            )
        )


@payouts.command("report")
@click.argument("journal_name", metavar="JOURNAL")
@click.option("--batch", "batch_id", help="The batch, in a PostgreSQL journal.")
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    "output_name",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Default: stdout.",
)
def report_command(
    journal_name: str, batch_id: str | None, report_format: str, output_name: str
) -> None:
    """Every row of JOURNAL with its state, payment id and error (card numbers masked).

    JOURNAL is a SQLite journal file, or a postgresql:// URL with --batch. Reads without
    locking, so it works while the batch runs.
    """
    if is_postgres_url(journal_name):
        report = _journals.report_postgres(journal_name, batch_id)
    else:
        refuse_batch_option(journal_name, batch_id)
        try:
            report = Journal.read_report(journal_name)
        except JournalError as exc:
            raise JournalUnusable(str(exc)) from None
    try:
        output = click.open_file(output_name, "w", encoding="utf-8")
    except OSError as exc:
        raise JournalUnusable(f"cannot write {output_name}: {exc.strerror or exc}") from None
    with output:
        _write_report(output, report, report_format, journal_name)


def _write_report(output: Any, report: BatchReport, report_format: str, journal: str) -> None:
    if report_format == "csv":
        output.write(_output.report_csv(report))
    elif report_format == "json":
        output.write(_output.report_json(report))
    else:
        _output.print_report(_output.console(file=output), report, journal=journal)


@payouts.command("status")
@click.argument("order_id")
@click.option(
    "--api",
    type=click.Choice(["gateway", "merchant"]),
    default="gateway",
    show_default=True,
    help="The API the payout was made through.",
)
@gateway_options
def status_command(order_id: str, api: str, gateway: Gateway) -> None:
    """The current state of the payout ORDER_ID (exit status 1 if the gateway does not know
    it)."""
    gateway.check()

    async def ask() -> Any:
        async with connect(gateway) as (client, _):
            return await client.payouts.status(order_id=order_id, api=cast(Any, api))

    try:
        payout = run_async(ask)
    except TransactionNotFound:
        raise click.ClickException(f"the gateway does not know order {order_id}") from None
    except FreedomPayError as exc:
        raise failure(exc) from None
    _output.print_payout(_output.console(), payout)


from . import _journals  # noqa: E402 - adds submit, worker and watch to the payouts group
