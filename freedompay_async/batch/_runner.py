"""The batch runner: rows -> payouts, at most ``concurrency`` at once, journaled before each send.

One anyio task group; a :class:`anyio.CapacityLimiter` admits a row only when one of the
``concurrency`` slots is free, so at most that many create calls (and reconciliations) are in
flight and at most that many rows are held in memory as tasks. A ``process`` payout gives its
slot back and is polled in the same task until it is final.

Per row (see :mod:`._journal` for the states):

* ``sending`` is committed, then the create call goes out (``wait=False``);
* ``ok`` -> ``success``; ``process`` -> ``process`` (then polled); a signed refusal of the
  create call -> ``error`` with its code; :class:`~freedompay_async.PayoutOutcomeUnknown` (the
  client's own reconciliation could not learn the outcome) -> ``unknown``, never re-sent in
  this run; certainly not sent -> back to ``pending``;
* on resume, rows in ``sending`` / ``unknown`` / ``process`` are asked about through the status
  endpoint first. Only a row the gateway says (signed) it does not know, whose last send
  started longer ago than the policy's ``not_found_grace``, is sent again - same order id.

Journal writes are synchronous SQLite commits on the event loop thread: there is no await
between learning an outcome and recording it, so a cancellation cannot fall in between.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import anyio

from .. import _validation as check
from ..errors import (
    BadSignature,
    FreedomPayError,
    GatewayError,
    GatewayOutcomeUnknown,
    OutcomeUnknown,
    PayoutDeclined,
    ProtocolError,
    RequestNotSent,
    SecretKeyRejected,
    SignatureMismatch,
    TransactionNotFound,
    UnknownMerchant,
    UnsignedResponse,
    ValidationError,
)
from ..payouts import (
    Payout,
    PayoutOutcomeUnknown,
    PayoutPending,
    Payouts,
    PayoutState,
    _poll_delay,
    _says_bad_signature,
)
from ._postgres import is_postgres_url
from ._rows import PayoutRow
from ._sqlite import Journal, SqliteStore, Synchronous
from ._store import Action, BatchReport, JournalError, JournalStore, RowResult, RowState

if TYPE_CHECKING:
    from ..client import FreedomPayClient

__all__ = ["PreflightError", "check_gateway", "run_payout_batch"]

logger = logging.getLogger("freedompay_async.batch")

#: Paths of the create calls: a signed refusal from one of these is the row's final answer.
_CREATE_PATHS = frozenset({Payouts._TO_CARD.path, Payouts._TO_TOKEN["gateway"].path})

#: At most this many "sending" marks share one journal commit.
_CHUNK = 64

_BY_PAYOUT_STATE = {
    PayoutState.SUCCESS: RowState.SUCCESS,
    PayoutState.ERROR: RowState.ERROR,
    PayoutState.PROCESS: RowState.PROCESS,
    PayoutState.UNKNOWN: RowState.UNKNOWN,
}


class Pacer:
    """At most ``rate`` requests per second (``None``: no limit), spaced evenly. The rate may
    change while it runs (a PostgreSQL worker takes its share of the batch-wide rate)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._next = 0.0
        self._lock = anyio.Lock()

    async def wait(self) -> None:
        if not self.rate:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
            if start > now:
                await anyio.sleep(start - now)


class _Run:
    """One run over a journal's batch (a first run, a resume, or one worker of many): a fixed
    pool of ``concurrency`` tasks, each taking the next claimed row until none is left."""

    def __init__(
        self,
        client: FreedomPayClient,
        journal: JournalStore,
        rows: Mapping[str, PayoutRow],
        post_links: Mapping[str, str],
        *,
        concurrency: int,
        wait: bool,
        on_progress: Callable[[Mapping[RowState, int]], None] | None,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.rows = rows
        self.post_links = post_links
        self.wait = wait
        self.on_progress = on_progress
        self.concurrency = concurrency
        self.pacer = pacer or Pacer(None)
        self.stopped: str | None = None
        #: A failure that ends the run (the journal cannot be written, a refused secret key):
        #: raised at the end, once what is known is recorded.
        self.fatal: JournalError | SecretKeyRejected | None = None
        self._stopping = anyio.Event()
        self._pollers: set[anyio.CancelScope] = set()
        self._claimed: collections.deque[tuple[RowResult, Action]] = collections.deque()
        self._claiming = anyio.Lock()
        self._idle = 0
        self._actions: dict[Action, Callable[[str], Awaitable[Payout | None]]] = {
            "ask": self._ask_first,
            "send": self._send_marked,
            "reconcile": self._reconcile,
        }

    # -- control -----------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Start no more rows and stop polling; rows already in flight finish."""
        if self.stopped is None:
            self.stopped = reason
        self._stopping.set()
        for scope in list(self._pollers):
            scope.cancel()

    def _key_rejected(self, exc: SecretKeyRejected) -> None:
        self.fatal = self.fatal or exc
        self.stop(f"the gateway refuses our signature: check the {exc.key} secret key")

    def _status_key_refused(self, order_id: str, exc: FreedomPayError) -> bool:
        """Whether a failed status request says our key is wrong (its answer fails
        verification and carries the bad-signature code): then stop, nothing was sent."""
        if not _says_bad_signature(exc):
            return False
        endpoint = getattr(exc, "endpoint", "") or "payout status"
        self._key_rejected(SecretKeyRejected(key="payout", endpoint=endpoint, order_id=order_id))
        return True

    def _fail(self, exc: JournalError) -> None:
        # Nothing more can be recorded, so nothing more may be sent.
        self.fatal = self.fatal or exc
        self.stop(f"the journal cannot be written: {exc}")

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the run is stopped first; whether to carry on."""
        with anyio.move_on_after(max(seconds, 0.0)):
            await self._stopping.wait()
        return not self._stopping.is_set()

    def _record(
        self,
        order_id: str,
        state: RowState,
        *,
        payment_id: int | None = None,
        error_code: int | None = None,
        error_description: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.journal.record(
            order_id,
            state,
            payment_id=payment_id,
            error_code=error_code,
            error_description=error_description,
            detail=detail,
        )
        if self.on_progress is not None:
            self.on_progress(self.journal.counts)

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.journal.counts)
        async with anyio.create_task_group() as group:
            group.start_soon(self._flush_timer)
            with self.client._telemetry.batch(self.journal, len(self.rows)):
                async with anyio.create_task_group() as pollers, anyio.create_task_group() as pool:
                    for _ in range(self.concurrency):
                        pool.start_soon(self._slot, pollers)
            group.cancel_scope.cancel()  # the rows are done: stop the timer
        try:
            await self.journal.flush()
        except JournalError as exc:
            self._fail(exc)
        if self.fatal is not None:
            raise self.fatal

    async def _flush_timer(self) -> None:
        """Commit outcomes within the journal's flush interval even when no ``sending`` follows
        (a resume whose slots only wait for the grace or poll)."""
        while True:
            await anyio.sleep(self.journal.flush_interval / 4)
            try:
                await self.journal.flush_due()
            except JournalError as exc:
                self._fail(exc)
                return

    async def _next(self) -> tuple[RowResult, Action] | None:
        """The next claimed row; claims as many rows as slots are waiting (their ``sending``
        marks share one commit). ``None``: nothing left to act on, or the run stops."""
        if self._claimed:  # claimed already (the lock below would hand out the same row)
            return self._claimed.popleft()
        self._idle += 1
        try:
            async with self._claiming:
                while not self._claimed and not self._stopping.is_set():
                    self._claimed.extend(await self.journal.claim(max(1, self._idle)))
                    if not self._claimed and not await self.journal.more_later():
                        break
                return self._claimed.popleft() if self._claimed else None
        finally:
            self._idle -= 1

    async def _slot(self, pollers: anyio.abc.TaskGroup) -> None:
        """One of the pool's tasks: rows one after the other; a ``process`` payout is handed to
        a poller so the slot is free for the next row."""
        while True:
            try:
                item = await self._next()
            except JournalError as exc:
                self._fail(exc)
                return
            if item is None:
                return
            entry, action = item
            order_id = entry.order_id
            try:
                with self.client._telemetry.row(order_id, action):
                    payout = await self._actions[action](order_id)
                    if payout is not None and self.wait and not self._stopping.is_set():
                        pollers.start_soon(self._settle, order_id, payout)  # polls: row's children
                    else:
                        self.journal.release(order_id)
            except JournalError as exc:
                self._fail(exc)
                return

    # -- sending -----------------------------------------------------------------------------

    async def _send(self, order_id: str) -> Payout | None:
        """Commit ``sending``, then :meth:`_send_marked` (nothing when the row is no longer
        ours: another worker took it over)."""
        if await self.journal.mark_sending(order_id) is None:
            return None
        if self.on_progress is not None:
            self.on_progress(self.journal.counts)
        return await self._send_marked(order_id)

    async def _send_marked(self, order_id: str) -> Payout | None:
        """Create the payout of a row whose ``sending`` is committed, once; record what is
        known. Returns the payout when it is in ``process`` (to be polled)."""
        assert self.journal[order_id].state is RowState.SENDING
        if not self.journal.may_send:
            return None  # fenced: the row stays in doubt for a live worker to reconcile
        await self.pacer.wait()
        try:
            payout = await self._create(self.rows[order_id], self.post_links[order_id])
        except PayoutOutcomeUnknown as exc:
            self._record(order_id, RowState.UNKNOWN, detail=str(exc))
            return None
        except RequestNotSent as exc:
            self._record(order_id, RowState.PENDING, detail=f"certainly not sent: {exc}")
            return None
        except SecretKeyRejected as exc:
            # Nothing was paid; every row would fail the same way.
            self._record(order_id, RowState.PENDING, detail=str(exc))
            self._key_rejected(exc)
            return None
        except PayoutDeclined as exc:
            self._declined(order_id, exc)
            return None
        except GatewayError as exc:
            self._refused(order_id, exc)
            return None
        except ValidationError as exc:  # the rows were checked; kept as a guard
            self._record(
                order_id, RowState.ERROR, error_description=str(exc), detail="not sent: invalid"
            )
            return None
        except (OutcomeUnknown, ProtocolError) as exc:
            self._record(order_id, RowState.UNKNOWN, detail=f"{type(exc).__name__}: {exc}")
            return None
        except Exception as exc:
            # A bug or a failure nobody foresaw: whether the payout exists is unknown.
            logger.exception("payout batch: unexpected failure for order %s", order_id)
            self._record(order_id, RowState.UNKNOWN, detail=f"unexpected {type(exc).__name__}")
            return None
        return self._answered(order_id, payout)

    async def _create(self, row: PayoutRow, post_link: str) -> Payout:
        payouts = self.client.payouts
        if row.card_number is not None:
            return await payouts.to_card(
                order_id=row.order_id,
                amount=row.amount,
                card_number=row.card_number,
                description=row.description,
                post_link=post_link,
                currency=row.currency,
                user_id=row.user_id,
                card_name=row.card_name,
                wait=False,
            )
        assert row.user_id is not None
        return await payouts.to_token(
            order_id=row.order_id,
            amount=row.amount,
            user_id=row.user_id,
            description=row.description,
            post_link=post_link,
            card_token=row.card_token,
            card_id=row.card_id,
            wait=False,
        )

    def _refused(self, order_id: str, exc: GatewayError) -> None:
        """A signed error answer while sending ``order_id``."""
        detail = f"{type(exc).__name__} {exc.code} from {exc.endpoint}"
        if exc.endpoint not in _CREATE_PATHS or isinstance(exc, GatewayOutcomeUnknown):
            # The status endpoint failed while the client reconciled an ambiguous create.
            self._record(order_id, RowState.UNKNOWN, detail=detail)
        elif isinstance(exc, BadSignature):
            # Signed "bad signature": the gateway did not process it. Every row would fail
            # the same way, so stop; the row is safe to send once the key is fixed.
            self._record(order_id, RowState.PENDING, detail=detail)
            self.stop(f"the gateway refuses our signature (code {exc.code}): check the keys")
        elif isinstance(exc, UnknownMerchant):
            # Unsigned by nature, so not proof of anything: keep the row in doubt.
            self._record(order_id, RowState.UNKNOWN, detail=detail)
            self.stop(f"the gateway does not know merchant {self.client.merchant_id}")
        else:
            payment_id = exc.fields.get("pg_payment_id")
            self._record(
                order_id,
                RowState.ERROR,
                payment_id=int(payment_id)
                if isinstance(payment_id, str) and payment_id.isdigit()
                else None,
                error_code=exc.code,
                error_description=exc.description or None,
                detail=detail,
            )

    def _declined(self, order_id: str, exc: PayoutDeclined) -> None:
        self._record(
            order_id,
            RowState.ERROR,
            payment_id=exc.payment_id,
            error_code=exc.code,
            error_description=exc.description or None,
        )

    def _answered(self, order_id: str, payout: Payout) -> Payout | None:
        """Record what the gateway said about a payout; return it when it is in ``process``."""
        state = _BY_PAYOUT_STATE[payout.state]
        if state is RowState.UNKNOWN:
            word = payout.raw.get("pg_payment_status") or payout.raw.get("pg_status")
            self._record(order_id, state, detail=f"unexpected payout status {word!r}")
            return None
        self._record(
            order_id,
            state,
            payment_id=payout.payment_id,
            error_code=payout.error_code,
            error_description=payout.error_description,
        )
        return payout if state is RowState.PROCESS else None

    async def _settle(self, order_id: str, payout: Payout) -> None:
        """Poll a ``process`` payout until it is final, the policy's deadline, or a stop."""
        with anyio.CancelScope() as scope:
            self._pollers.add(scope)
            try:
                final = await self.client.payouts.wait(order_id, payout=payout)
            except PayoutPending:
                self._record(order_id, RowState.PROCESS, detail="still in process at the deadline")
            except PayoutDeclined as exc:
                self._declined(order_id, exc)
            except FreedomPayError as exc:
                self._record(order_id, RowState.PROCESS, detail=f"polling failed: {exc}")
            else:
                self._answered(order_id, final)
            finally:
                self._pollers.discard(scope)
                self.journal.release(order_id)

    # -- reconciling -------------------------------------------------------------------------

    async def _ask_first(self, order_id: str) -> Payout | None:
        """The status preflight of a row never sent from this journal: a payout the gateway
        knows (the same file under another journal) is recorded from its answer; only a
        signed "not found" lets the row be sent; anything else keeps it out of sending in
        this run (``unknown``, asked again on resume)."""
        try:
            await self.pacer.wait()
            payout = await self.client.payouts.status(order_id=order_id)
        except TransactionNotFound:
            return await self._send(order_id)
        except (BadSignature, UnknownMerchant) as exc:
            self.stop(f"the gateway refuses the status request (code {exc.code}): check the keys")
            return None
        except RequestNotSent:
            return None  # nothing was asked, nothing sent: the row stays pending for a resume
        except SecretKeyRejected as exc:
            self._key_rejected(exc)
            return None
        except (FreedomPayError, OSError) as exc:
            if isinstance(exc, FreedomPayError) and self._status_key_refused(order_id, exc):
                return None
            detail = f"status preflight not learnt: {type(exc).__name__}: {exc}"
            self._record(order_id, RowState.UNKNOWN, detail=detail)
            return None
        return self._answered(order_id, payout)

    async def _reconcile(self, order_id: str) -> Payout | None:
        """Learn the outcome of a row that may have reached the gateway; send it again only
        when the gateway says it does not know it and the grace period has passed."""
        policy = self.client.payouts.policy
        deadline = time.monotonic() + policy.reconcile_deadline
        polls = 0
        while True:
            entry = self.journal[order_id]
            try:
                await self.pacer.wait()
                payout = await self.client.payouts.status(order_id=order_id)
            except TransactionNotFound:
                # Signed, and from the answer just received. A row that answered "process"
                # (or gave a payment id) exists: never create it again.
                if entry.state is RowState.PROCESS or entry.payment_id is not None:
                    self._record(order_id, RowState.UNKNOWN, detail="in process, now not found")
                    return None
                # The grace counts from the start of the last send, never from the first
                # "not found": a status that lags the create must not cause a second payout.
                since = time.time() - (entry.send_started_at or 0.0)
                if since >= policy.not_found_grace:
                    return await self._send(order_id)
                wait_for = min(policy.not_found_grace - since, deadline - time.monotonic())
                if wait_for <= 0 or not await self._pause(wait_for + 0.01):
                    break
                continue
            except SecretKeyRejected as exc:
                self._key_rejected(exc)
                return None
            except (OutcomeUnknown, ProtocolError, GatewayOutcomeUnknown, RequestNotSent) as exc:
                if self._status_key_refused(order_id, exc):
                    return None  # the row stays in doubt: asked again with the right key
                # cannot tell yet (a signed answer naming another order included): ask again
            except GatewayError as exc:
                detail = f"status refused: {type(exc).__name__} {exc.code}"
                self._record(order_id, RowState.UNKNOWN, detail=detail)
                if isinstance(exc, (BadSignature, UnknownMerchant)):
                    self.stop(f"the gateway refuses the status request (code {exc.code})")
                return None
            else:
                return self._answered(order_id, payout)
            if time.monotonic() >= deadline or not await self._pause(_poll_delay(policy, polls)):
                break
            polls += 1
        if not self._stopping.is_set():
            self._record(order_id, RowState.UNKNOWN, detail="status not learnt before the deadline")
        return None


def notification_urls(rows: Sequence[PayoutRow], default: str | None) -> dict[str, str]:
    """Each row's notification URL (its own, else ``default``), by order id; a
    :class:`ValidationError` naming the first row that has none."""
    links: dict[str, str] = {}
    for row in rows:
        link = row.post_link or default
        if link is None:
            raise ValidationError(
                "post_link", f"line {row.line}: no post_link for order {row.order_id}"
            )
        links[row.order_id] = link
    return links


class PreflightError(FreedomPayError):
    """The gateway check before a batch failed (wrong key, unknown merchant, unreachable
    gateway): nothing was sent. ``__cause__`` is the client's error."""


async def check_gateway(client: FreedomPayClient) -> None:
    """One read (the payout balance) proving the keys and the gateway work before any payout.

    Any answer whose signature verifies will do, a signed refusal included: a wrong key shows
    up here once instead of as thousands of rows in doubt.
    """
    try:
        await client.payouts.balance()
    except BadSignature as exc:
        raise PreflightError(
            f"the gateway refuses our signature (code {exc.code}): check the payout secret key"
        ) from exc
    except UnknownMerchant as exc:
        raise PreflightError(f"the gateway does not know merchant {client.merchant_id}") from exc
    except GatewayError:
        return
    except (SignatureMismatch, UnsignedResponse) as exc:
        raise PreflightError(
            "the gateway's answer does not verify with our payout secret key: check the key"
        ) from exc
    except FreedomPayError as exc:
        raise PreflightError(f"the gateway cannot be reached or misbehaves: {exc}") from exc


async def run_payout_batch(
    client: FreedomPayClient,
    rows: Sequence[PayoutRow],
    *,
    journal: Journal | str | os.PathLike[str] | None = None,
    concurrency: int = 20,
    post_link: str | None = None,
    wait: bool = True,
    source: str | None = None,
    gateway: str | None = None,
    synchronous: Synchronous = "NORMAL",
    preflight: bool = True,
    status_preflight: bool = True,
    max_rate: float | None = None,
    on_progress: Callable[[Mapping[RowState, int]], None] | None = None,
    stop: anyio.Event | None = None,
) -> BatchReport:
    """Pay out ``rows`` through ``client``, at most ``concurrency`` at once, and report.

    ``journal`` is a :class:`Journal` or the path of its SQLite file (created if missing;
    ``None`` keeps it in memory, which no crash survives), or a ``postgresql://`` URL: the
    batch is then submitted there (the same rows again: the same batch) and this call is one
    worker of it (see :class:`PayoutWorker` for more). ``max_rate`` caps the requests per
    second (on PostgreSQL shared by the batch's live workers). Given a journal that already holds
    this batch, the run **resumes** it: rows that may have reached the gateway are reconciled
    through the status endpoint first, rows never sent are sent, final rows are left alone.
    The journal must have been started by the same merchant against the same ``gateway``
    (default: ``client.base_url``) with the same rows, or :class:`JournalMismatch` is raised
    before anything is sent.

    ``post_link`` is the notification URL of rows that have none of their own (required if
    any row lacks one; a resumed journal remembers it). With ``wait`` (default) ``process``
    payouts are polled until final or the client's ``PayoutPolicy.wait_deadline``; those still
    in ``process`` then stay so (pending, not failed). ``on_progress`` gets the counts by state
    after every change. Setting ``stop`` starts no more rows; rows in flight finish.

    Unless ``preflight`` is false, one balance request then proves that the keys and the
    gateway work (:class:`PreflightError` otherwise, before any payout is sent; the journal
    is then recorded with every row pending, ready to resume).

    Unless ``status_preflight`` is false, every row never sent from this journal is first
    asked about through the status endpoint (within the same ``concurrency``): an order the
    gateway already knows - the same file run under another journal - is recorded from its
    answer and never sent again; only rows the gateway says (signed) it does not know are
    sent, and a row whose status cannot be learnt stays ``unknown`` until a resume.

    At most ``min(concurrency, client connection_limit)`` requests are in flight. Cancelling
    the call leaves the journal consistent (rows in flight stay ``sending``; a resume asks).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if post_link is not None:
        post_link = check.url("post_link", post_link)
    if is_postgres_url(journal):
        assert isinstance(journal, str)
        return await _run_on_postgres(
            client,
            rows,
            journal,
            concurrency=concurrency,
            post_link=post_link,
            wait=wait,
            source=source,
            gateway=gateway,
            preflight=preflight,
            status_preflight=status_preflight,
            max_rate=max_rate,
            on_progress=on_progress,
            stop=stop,
        )
    owned = not isinstance(journal, Journal)
    book = journal if isinstance(journal, Journal) else Journal(journal, synchronous=synchronous)
    started = time.monotonic()
    try:
        post_link = post_link or book.post_link
        links = notification_urls(rows, post_link)
        book.start(
            merchant_id=client.merchant_id,
            gateway=gateway or client.base_url,
            rows=rows,
            source=source,
            post_link=post_link,
        )
        if preflight:
            await check_gateway(client)
        run = _Run(
            client,
            SqliteStore(book, status_preflight=status_preflight),
            {row.order_id: row for row in rows},
            links,
            concurrency=concurrency,
            wait=wait,
            on_progress=on_progress,
            pacer=Pacer(max_rate),
        )
        async with anyio.create_task_group() as watcher:
            if stop is not None:

                async def watch(event: anyio.Event) -> None:
                    await event.wait()
                    run.stop("stop requested")

                watcher.start_soon(watch, stop)
            try:
                await run.run()
            except (JournalError, SecretKeyRejected) as exc:
                failure: FreedomPayError | None = exc  # raised as is, not in a group
            else:
                failure = None
            watcher.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return book.report(stopped=run.stopped, elapsed=time.monotonic() - started)
    finally:
        if owned:
            book.close()
        else:
            book.flush()


async def _run_on_postgres(
    client: FreedomPayClient,
    rows: Sequence[PayoutRow],
    url: str,
    *,
    concurrency: int,
    post_link: str | None,
    wait: bool,
    source: str | None,
    gateway: str | None,
    preflight: bool,
    status_preflight: bool,
    max_rate: float | None,
    on_progress: Callable[[Mapping[RowState, int]], None] | None,
    stop: anyio.Event | None,
) -> BatchReport:
    """Submit + one worker on a PostgreSQL journal."""
    from ._postgres import PostgresJournal
    from ._worker import PayoutWorker, submit_payout_batch

    async with PostgresJournal(url) as db:
        batch_id = await submit_payout_batch(
            client,
            rows,
            db,
            gateway=gateway,
            source=source,
            post_link=post_link,
            max_rate=max_rate,
            preflight=preflight,
        )
        worker = PayoutWorker(
            client,
            db,
            batch_id,
            rows,
            concurrency=concurrency,
            wait=wait,
            status_preflight=status_preflight,
            post_link=post_link,
            on_progress=on_progress,
            stop=stop,
            gateway=gateway,
        )
        return await worker.run()
