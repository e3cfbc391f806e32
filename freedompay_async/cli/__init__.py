"""``freedompay``: payout batches, payout status, balance, the emulator and signature debugging.

A thin layer over the library (:mod:`freedompay_async.batch`, ``client.payouts``). Needs the
``cli`` extra (``pip install "freedompay-async[cli]"``: click and rich).

Credentials come from the environment (``FREEDOMPAY_MERCHANT_ID``, ``FREEDOMPAY_SECRET_KEY``,
``FREEDOMPAY_PAYOUT_SECRET_KEY``, ``FREEDOMPAY_REGION`` / ``FREEDOMPAY_BASE_URL``) or flags; a
secret is never printed. ``--emulator`` runs against an embedded gateway emulator instead.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import signal
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import aiohttp
import anyio
import attrs
import click
from rich.console import Console

from .._endpoints import ENDPOINTS, KeyKind
from .._wire import parse_form
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
from ..client import FreedomPayClient
from ..errors import (
    ConfigurationError,
    FreedomPayError,
    TransactionNotFound,
    UnsupportedValueType,
    ValidationError,
)
from ..payouts import PayoutPolicy
from ..signing import script_name, sign, signing_string
from ..telemetry import Telemetry, serve_prometheus
from . import _output

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_ROWS", "EXIT_USAGE", "cli", "main"]

EXIT_OK = 0
EXIT_ROWS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The merchant id of the embedded emulator (``--emulator``) and what its journals record.
EMULATOR_MERCHANT = "552893"
EMULATOR_GATEWAY = "embedded emulator"
#: Notifications of the embedded emulator go to a closed local port: refused at once.
EMULATOR_POST_LINK = "http://127.0.0.1:9/freedompay/payouts"

EXIT_CODES = """\b
Exit status:
  0    every row succeeded (other commands: done)
  1    some rows ended in error or unknown, are still in process or were not sent
       (see the summary or `payouts report`); other commands: the gateway refused
  2    nothing was sent: bad rows, usage, journal mismatch, missing or wrong credentials,
       gateway unreachable
  130  interrupted (Ctrl-C, SIGTERM): the journal is consistent, `payouts resume` it
"""

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen(slots=True)
class _Gateway:
    """Where to send requests and with which credentials (secrets never in reprs)."""

    merchant_id: str | None
    secret_key: str | None = attrs.field(repr=False)
    payout_secret_key: str | None = attrs.field(repr=False)
    region: Literal["kz", "uz", "kg"]
    test_host: bool
    base_url: str | None
    emulator: bool
    emulator_latency: float
    timeout: float

    def check(self) -> None:
        """Raise a usage error for missing or contradictory settings (before any I/O)."""
        if self.emulator:
            if self.base_url:
                raise click.UsageError("--emulator and --base-url exclude each other")
            return
        if not self.merchant_id:
            raise click.UsageError(
                "missing merchant id: set FREEDOMPAY_MERCHANT_ID or pass --merchant-id "
                "(or --emulator)"
            )
        if not self.secret_key and not self.payout_secret_key:
            raise click.UsageError(
                "missing secret key: set FREEDOMPAY_PAYOUT_SECRET_KEY / FREEDOMPAY_SECRET_KEY "
                "or pass --payout-secret-key / --secret-key (or --emulator)"
            )


def _gateway_options(command: F) -> F:
    """Add the connection options; the command receives them as ``gateway=_Gateway(...)``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["gateway"] = _Gateway(
            merchant_id=kwargs.pop("merchant_id"),
            secret_key=kwargs.pop("secret_key"),
            payout_secret_key=kwargs.pop("payout_secret_key"),
            region=kwargs.pop("region"),
            test_host=kwargs.pop("test_host"),
            base_url=kwargs.pop("base_url"),
            emulator=kwargs.pop("emulator"),
            emulator_latency=kwargs.pop("emulator_latency"),
            timeout=kwargs.pop("timeout"),
        )
        return command(*args, **kwargs)

    options = [
        click.option(
            "--merchant-id", envvar="FREEDOMPAY_MERCHANT_ID", show_envvar=True, help="Merchant id."
        ),
        click.option(
            "--secret-key",
            envvar="FREEDOMPAY_SECRET_KEY",
            show_envvar=True,
            metavar="KEY",
            help="Payment secret key (never printed; prefer the environment variable).",
        ),
        click.option(
            "--payout-secret-key",
            envvar="FREEDOMPAY_PAYOUT_SECRET_KEY",
            show_envvar=True,
            metavar="KEY",
            help="Payout secret key (default: the payment key; never printed).",
        ),
        click.option(
            "--region",
            envvar="FREEDOMPAY_REGION",
            show_envvar=True,
            type=click.Choice(["kz", "uz", "kg"]),
            default="kz",
            show_default=True,
            help="Country of the documented gateway host.",
        ),
        click.option("--test-host", is_flag=True, help="Use the region's documented test host."),
        click.option(
            "--base-url",
            envvar="FREEDOMPAY_BASE_URL",
            show_envvar=True,
            help="Any other gateway URL (a proxy, a standalone emulator).",
        ),
        click.option(
            "--emulator",
            is_flag=True,
            help="Run against an embedded gateway emulator (generated keys; nothing is paid).",
        ),
        click.option(
            "--emulator-latency",
            type=click.FloatRange(0),
            default=0.05,
            hidden=True,
            help="Seconds the embedded emulator takes per payout (a bank's delay).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=90.0,
            show_default=True,
            help="Seconds per HTTP attempt.",
        ),
    ]
    result: Callable[..., Any] = wrapper
    for option in reversed(options):
        result = option(result)
    return cast(F, result)


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
            help="First status poll wait (seconds; doubles, with jitter).",
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
            help="A payout the gateway does not know is sent again only once its last send "
            "started this long ago. Lower it only for an emulator.",
        ),
    ]
    result: Callable[..., Any] = wrapper
    for option in reversed(options):
        result = option(result)
    return cast(F, result)


@contextlib.asynccontextmanager
async def _connect(
    gateway: _Gateway,
    *,
    connection_limit: int = 100,
    policy: PayoutPolicy | None = None,
    telemetry: Telemetry | None = None,
) -> AsyncIterator[tuple[FreedomPayClient, str]]:
    """A client (and the gateway's name for journals), with the embedded emulator if asked."""
    timeout = aiohttp.ClientTimeout(total=gateway.timeout, connect=min(10.0, gateway.timeout))
    if gateway.emulator:
        from ..testing import Emulator, Fault  # the emulator needs aiohttp.web only here

        payment_key, payout_key = secrets.token_hex(16), secrets.token_hex(16)
        emulator = Emulator(
            merchant_id=EMULATOR_MERCHANT,
            secret_key=payment_key,
            payout_secret_key=payout_key,
            balance=Decimal("100000000000"),
            notify_retry_delays=(),
        )
        if gateway.emulator_latency:
            for path in ("g2g/p2p2nonreg", "g2g/reg2reg"):
                emulator.faults.add(Fault.latency(gateway.emulator_latency, endpoint=path))
        async with (
            emulator,
            FreedomPayClient(
                EMULATOR_MERCHANT,
                payment_key,
                payout_secret_key=payout_key,
                base_url=emulator.url,
                timeout=timeout,
                connection_limit=connection_limit,
                payout_policy=policy,
                telemetry=telemetry,
            ) as client,
        ):
            yield client, EMULATOR_GATEWAY
        return
    assert gateway.merchant_id is not None
    secret = gateway.secret_key or gateway.payout_secret_key
    assert secret is not None
    try:
        client = FreedomPayClient(
            gateway.merchant_id,
            secret,
            payout_secret_key=gateway.payout_secret_key,
            region=gateway.region,
            environment="test" if gateway.test_host else "production",
            base_url=gateway.base_url,
            timeout=timeout,
            connection_limit=connection_limit,
            payout_policy=policy,
            telemetry=telemetry,
        )
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    async with client:
        yield client, client.base_url


def _run_async(function: Callable[..., Any], *args: Any) -> Any:
    return anyio.run(function, *args, backend="asyncio")


# -- the command group -------------------------------------------------------------------------


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES,
)
@click.version_option(package_name="freedompay-async", prog_name="freedompay")
def cli() -> None:
    """FreedomPay payouts from the command line: batches with a resumable journal, payout
    status, balance, a local gateway emulator and signature debugging.

    Try it without an account: freedompay payouts run examples/payouts.csv --emulator
    """


@cli.group(epilog=EXIT_CODES)
def payouts() -> None:
    """Payout batches (run, resume, report) and the status of one payout."""


# -- payouts run / resume ----------------------------------------------------------------------


@attrs.define
class _Interrupt:
    requested: bool = False


async def _watch_signals(
    stop: anyio.Event, abort: anyio.CancelScope, flag: _Interrupt, err: Console
) -> None:
    """First SIGINT/SIGTERM: start no new rows; the second: abort at once."""
    try:
        receiver = anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
    except NotImplementedError:  # pragma: no cover - Windows: Ctrl-C cancels as usual
        return
    with receiver as signals:
        async for _ in signals:
            flag.requested = True
            if stop.is_set():
                err.print("[bold red]aborting[/]: rows in flight stay in doubt until resumed")
                abort.cancel()
                return
            err.print(
                "[bold yellow]stopping[/]: no new rows; waiting for the rows in flight "
                "(Ctrl-C again to abort now)"
            )
            stop.set()


@attrs.frozen(slots=True)
class _BatchJob:
    gateway: _Gateway
    policy: PayoutPolicy
    rows: Sequence[PayoutRow]
    journal: Journal
    source: str
    post_link: str | None
    concurrency: int
    wait: bool
    quiet: bool
    telemetry: Telemetry | None = None


async def _batch_main(job: _BatchJob, err: Console) -> tuple[BatchReport, bool, int]:
    stop = anyio.Event()
    interrupt = _Interrupt()
    journal = job.journal
    done_before = sum(
        count
        for state, count in journal.counts.items()
        if state not in (RowState.PENDING, RowState.SENDING)
    )
    progress = _output.BatchProgress(err, len(job.rows), enabled=not job.quiet and err.is_terminal)
    report: BatchReport | None = None
    failure: FreedomPayError | None = None
    post_link = job.post_link or (EMULATOR_POST_LINK if job.gateway.emulator else None)
    with anyio.CancelScope() as abort:
        async with (
            _connect(
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
                    report = await run_payout_batch(
                        client,
                        job.rows,
                        journal=journal,
                        concurrency=job.concurrency,
                        post_link=post_link,
                        wait=job.wait,
                        source=job.source,
                        gateway=label,
                        on_progress=progress.update,
                        stop=stop,
                    )
                except (JournalError, ValidationError, PreflightError) as exc:
                    failure = exc  # raised below, not wrapped in the task group's group
                progress.update(journal.counts, force=True)
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if report is None:
        report = journal.report(stopped="aborted")
    elif interrupt.requested and report.stopped == "stop requested":
        report = attrs.evolve(report, stopped="interrupted")
    done_after = len(report.rows) - report.counts[RowState.PENDING]
    done_after -= report.counts[RowState.SENDING]
    return report, interrupt.requested, done_after - done_before


@contextlib.contextmanager
def _metrics_served(port: int | None, host: str) -> Iterator[Telemetry | None]:
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


def _execute_batch(
    *,
    gateway: _Gateway,
    policy: PayoutPolicy,
    rows: Sequence[PayoutRow],
    journal_path: Path,
    source: Path,
    post_link: str | None,
    concurrency: int,
    wait: bool,
    synchronous: str,
    quiet: bool,
    telemetry: Telemetry | None,
) -> int:
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    try:
        journal = Journal(journal_path, synchronous="FULL" if synchronous == "full" else "NORMAL")
    except JournalError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        return EXIT_USAGE
    job = _BatchJob(
        gateway,
        policy,
        rows,
        journal,
        str(source.resolve()),
        post_link,
        concurrency,
        wait,
        quiet,
        telemetry,
    )
    attempts_before = sum(row.attempts for row in journal.entries())
    try:
        report, interrupted, finished = _run_async(_batch_main, job, err)
    except (JournalError, ValidationError, PreflightError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        fresh = journal.is_new
        untouched = sum(row.attempts for row in journal.entries()) == attempts_before
        journal.close()
        if fresh:  # never started: leave no journal behind, so `run` can simply be repeated
            for suffix in ("", "-wal", "-shm"):
                Path(f"{journal_path}{suffix}").unlink(missing_ok=True)
        else:
            err.print(f"resume with: freedompay payouts resume {journal_path}", markup=False)
        if untouched:
            err.print("nothing was sent")
            return EXIT_USAGE
        return EXIT_ROWS
    finally:
        journal.close()
    rate = finished / report.elapsed if report.elapsed else None
    if quiet:
        counts = ", ".join(
            f"{count:,} {state.value}" for state, count in report.counts.items() if count
        )
        out.print(f"{len(report.rows):,} rows: {counts}")
    else:
        _output.print_summary(out, report, journal=str(journal_path), sent_rate=rate)
    unfinished = any(
        report.counts[state]
        for state in (RowState.PENDING, RowState.SENDING, RowState.UNKNOWN, RowState.PROCESS)
    )
    if unfinished:
        err.print(f"resume with: freedompay payouts resume {journal_path}", markup=False)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.all_succeeded else EXIT_ROWS


def _read_rows(path: Path, rows_format: str | None) -> Sequence[PayoutRow]:
    err = Console(stderr=True, highlight=False)
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
        click.option("--quiet", "-q", is_flag=True, help="No progress bar, a one-line summary."),
        click.option(
            "--metrics-port",
            type=click.IntRange(1, 65535),
            help="Serve the batch's metrics for Prometheus at http://HOST:PORT/metrics "
            '(needs pip install "freedompay-async[prometheus]").',
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
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The batch journal (SQLite) to create.  [default: FILE.journal]",
)
@click.option(
    "--format",
    "rows_format",
    type=click.Choice(["csv", "jsonl"]),
    help="Input format.  [default: from the extension]",
)
@_batch_options
@_policy_options
@_gateway_options
def run_command(
    file: Path,
    journal_path: Path | None,
    rows_format: str | None,
    concurrency: int,
    post_link: str | None,
    wait: bool,
    synchronous: str,
    quiet: bool,
    metrics_port: int | None,
    metrics_host: str,
    policy: PayoutPolicy,
    gateway: _Gateway,
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
    journal_path = journal_path or file.with_name(file.name + ".journal")
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
    with _metrics_served(metrics_port, metrics_host) as telemetry:
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
                quiet=quiet,
                telemetry=telemetry,
            )
        )


@payouts.command("resume", epilog=EXIT_CODES)
@click.argument(
    "journal_path", metavar="JOURNAL", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--file",
    "rows_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The batch's input file.  [default: the path recorded in the journal]",
)
@click.option("--format", "rows_format", type=click.Choice(["csv", "jsonl"]))
@_batch_options
@_policy_options
@_gateway_options
def resume_command(
    journal_path: Path,
    rows_file: Path | None,
    rows_format: str | None,
    concurrency: int,
    post_link: str | None,
    wait: bool,
    synchronous: str,
    quiet: bool,
    metrics_port: int | None,
    metrics_host: str,
    policy: PayoutPolicy,
    gateway: _Gateway,
) -> None:
    """Finish the batch of JOURNAL after a crash, Ctrl-C or a partial run.

    Rows that may have reached the gateway (sending, unknown, process) are first asked about
    through the status endpoint; one is sent again only when the gateway says it does not
    know it and its last send started more than --not-found-grace seconds ago. Rows never
    sent are sent; final rows are left alone. The journal keeps no card numbers, so the input
    file is read again and must still hold the same rows.
    """
    try:
        recorded = Journal.read_report(journal_path)
    except JournalError as exc:
        raise click.UsageError(str(exc)) from None
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
    with _metrics_served(metrics_port, metrics_host) as telemetry:
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
                quiet=quiet,
                telemetry=telemetry,
            )
        )


@payouts.command("report")
@click.argument(
    "journal_path", metavar="JOURNAL", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="Default: stdout."
)
def report_command(journal_path: Path, report_format: str, output: Any) -> None:
    """Every row of JOURNAL with its state, payment id and error (card numbers masked).

    Reads the journal without locking it, so it works while the batch runs.
    """
    try:
        report = Journal.read_report(journal_path)
    except JournalError as exc:
        raise click.UsageError(str(exc)) from None
    if report_format == "csv":
        output.write(_output.report_csv(report))
    elif report_format == "json":
        output.write(_output.report_json(report))
    else:
        console = Console(file=output, highlight=False)
        _output.print_summary(console, report, journal=str(journal_path), attention_rows=50)


# -- payouts status / balance ------------------------------------------------------------------


@payouts.command("status")
@click.argument("order_id")
@click.option(
    "--api",
    type=click.Choice(["gateway", "merchant"]),
    default="gateway",
    show_default=True,
    help="The API the payout was made through.",
)
@_gateway_options
def status_command(order_id: str, api: str, gateway: _Gateway) -> None:
    """The current state of the payout ORDER_ID (exit status 1 if the gateway does not know
    it)."""
    gateway.check()

    async def ask() -> Any:
        async with _connect(gateway) as (client, _):
            return await client.payouts.status(order_id=order_id, api=cast(Any, api))

    try:
        payout = _run_async(ask)
    except TransactionNotFound:
        raise click.ClickException(f"the gateway does not know order {order_id}") from None
    except FreedomPayError as exc:
        raise click.ClickException(str(exc)) from None
    _output.print_payout(Console(highlight=False), payout)


@cli.command("balance")
@click.option("--currency", help="Balance currency, e.g. KZT.")
@_gateway_options
def balance_command(currency: str | None, gateway: _Gateway) -> None:
    """The merchant's payout balance."""
    gateway.check()

    async def ask() -> Any:
        async with _connect(gateway) as (client, _):
            return await client.payouts.balance(currency)

    try:
        balance = _run_async(ask)
    except FreedomPayError as exc:
        raise click.ClickException(str(exc)) from None
    _output.print_balance(Console(highlight=False), balance)


# -- emulator / sign ---------------------------------------------------------------------------


@cli.command(
    "emulator",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def emulator_command(args: tuple[str, ...]) -> None:
    """Serve the gateway emulator (the freedompay-emulator command; --help for its options)."""
    from ..testing.__main__ import main as emulator_main

    raise click.exceptions.Exit(emulator_main(list(args)))


def _key_kind(script: str) -> KeyKind:
    for endpoint in ENDPOINTS:
        if endpoint.script == script:
            return endpoint.key
    return "payment"


@cli.command("sign")
@click.argument("script")
@click.argument("params", nargs=-1, metavar="[NAME=VALUE]...")
@click.option(
    "--key",
    "key_kind",
    type=click.Choice(["auto", "payment", "payout"]),
    default="auto",
    show_default=True,
    help="Which secret signs SCRIPT (auto: the endpoint table's choice).",
)
@click.option(
    "--secret-key",
    envvar="FREEDOMPAY_SECRET_KEY",
    show_envvar=True,
    metavar="KEY",
    help="Payment secret key (never printed).",
)
@click.option(
    "--payout-secret-key",
    envvar="FREEDOMPAY_PAYOUT_SECRET_KEY",
    show_envvar=True,
    metavar="KEY",
    help="Payout secret key (default: the payment key; never printed).",
)
def sign_command(
    script: str,
    params: tuple[str, ...],
    key_kind: str,
    secret_key: str | None,
    payout_secret_key: str | None,
) -> None:
    """Print the string the gateway hashes for a request to SCRIPT, with the secret key (and
    card numbers) masked, and its pg_sig - for "bad signature" answers.

    SCRIPT is the script name or path (p2p2nonreg, g2g/payout_status2, a URL). Give every
    field you sent, in the order you sent it, pg_salt and pg_merchant_id included
    (pg_receipt_positions[0][name]=... style names are nested as the gateway nests them). A
    pg_sig among them is compared with the computed one.
    """
    name = script_name(script if "/" in script else "/" + script)
    kind: KeyKind = _key_kind(name) if key_kind == "auto" else cast(KeyKind, key_kind)
    secret = (payout_secret_key or secret_key) if kind == "payout" else secret_key
    if not secret:
        env = "FREEDOMPAY_PAYOUT_SECRET_KEY" if kind == "payout" else "FREEDOMPAY_SECRET_KEY"
        raise click.UsageError(f"missing {kind} secret key: set {env} or pass the option")
    pairs: list[tuple[str, str]] = []
    for param in params:
        field, sep, value = param.partition("=")
        if not sep or not field:
            raise click.UsageError(f"expected NAME=VALUE, got {param!r}")
        pairs.append((field, value))
    fields = parse_form(pairs)
    given = fields.get("pg_sig")
    try:
        text = signing_string(name, fields, secret)
        signature = sign(name, fields, secret)
    except (ValidationError, UnsupportedValueType) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"script          {name} (signed with the {kind} key)")
    click.echo(f"signing string  {text}")
    click.echo(f"pg_sig          {signature}")
    if isinstance(given, str):
        verdict = "matches" if given == signature else "DOES NOT MATCH the computed pg_sig"
        click.echo(f"given pg_sig    {verdict}")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``freedompay`` script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="freedompay")
