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
import itertools
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
from ..payouts import Payout, PayoutOutcomeUnknown, PayoutPending, Payouts, PayoutState, _poll_delay
from ._journal import BatchReport, Journal, JournalError, RowState, Synchronous
from ._rows import PayoutRow

if TYPE_CHECKING:
    from ..client import FreedomPayClient

__all__ = ["PreflightError", "run_payout_batch"]

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


class _Run:
    """One run over a journal's batch (a first run or a resume)."""

    def __init__(
        self,
        client: FreedomPayClient,
        journal: Journal,
        rows: Mapping[str, PayoutRow],
        post_links: Mapping[str, str],
        *,
        concurrency: int,
        wait: bool,
        on_progress: Callable[[Mapping[RowState, int]], None] | None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.rows = rows
        self.post_links = post_links
        self.wait = wait
        self.on_progress = on_progress
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.stopped: str | None = None
        #: A failure that ends the run (the journal cannot be written): raised at the end.
        self.fatal: JournalError | None = None
        self._stopping = anyio.Event()
        self._producer = anyio.CancelScope()
        self._pollers: set[anyio.CancelScope] = set()

    # -- control -----------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Start no more rows and stop polling; rows already in flight finish."""
        if self.stopped is None:
            self.stopped = reason
        self._stopping.set()
        self._producer.cancel()
        for scope in list(self._pollers):
            scope.cancel()

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
        self.journal.transition(
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
        entries = self.journal.entries()
        # Rows that may have reached the gateway are reconciled first, then the rest is sent.
        in_doubt = [entry.order_id for entry in entries if entry.state.in_doubt]
        pending = [entry.order_id for entry in entries if entry.state is RowState.PENDING]
        if self.on_progress is not None:
            self.on_progress(self.journal.counts)
        reconcile, send = self._reconcile, self._send_marked  # bound once: compared by identity
        queue = collections.deque(
            itertools.chain(
                ((order_id, reconcile) for order_id in in_doubt),
                ((order_id, send) for order_id in pending),
            )
        )
        async with anyio.create_task_group() as group:
            with self._producer:
                while queue:
                    token = object()
                    await self.limiter.acquire_on_behalf_of(token)
                    chunk = [(*queue.popleft(), token)]
                    # Slots that are free now too: their "sending" marks share one commit.
                    while queue and len(chunk) < _CHUNK and self.limiter.available_tokens >= 1:
                        token = object()
                        self.limiter.acquire_on_behalf_of_nowait(token)
                        chunk.append((*queue.popleft(), token))
                    try:
                        with self.journal.held():
                            for order_id, worker, _ in chunk:
                                if worker is send:
                                    self._record(order_id, RowState.SENDING)
                    except JournalError as exc:
                        for *_, token in chunk:
                            self.limiter.release_on_behalf_of(token)
                        self.fatal = self.fatal or exc
                        self.stop(f"the journal cannot be written: {exc}")
                        break
                    # No await since the commit: every marked row is started.
                    for order_id, worker, token in chunk:
                        group.start_soon(self._slot, worker, order_id, token)
        if self.fatal is not None:
            raise self.fatal

    async def _slot(
        self,
        worker: Callable[[str], Awaitable[Payout | None]],
        order_id: str,
        token: object | None,
    ) -> None:
        telemetry = self.client._telemetry
        with telemetry.row(order_id, reconcile=worker == self._reconcile):
            try:
                payout = await worker(order_id)
                if payout is not None and self.wait and not self._stopping.is_set():
                    self.limiter.release_on_behalf_of(token)
                    token = None
                    await self._settle(order_id, payout)
            except JournalError as exc:
                # Nothing more can be recorded, so nothing more may be sent.
                self.fatal = self.fatal or exc
                self.stop(f"the journal cannot be written: {exc}")
            finally:
                if token is not None:
                    self.limiter.release_on_behalf_of(token)

    # -- sending -----------------------------------------------------------------------------

    async def _send(self, order_id: str) -> Payout | None:
        """Commit ``sending``, then :meth:`_send_marked`."""
        self._record(order_id, RowState.SENDING)
        return await self._send_marked(order_id)

    async def _send_marked(self, order_id: str) -> Payout | None:
        """Create the payout of a row whose ``sending`` is committed, once; record what is
        known. Returns the payout when it is in ``process`` (to be polled)."""
        assert self.journal[order_id].state is RowState.SENDING
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
            self.stop(f"the gateway refuses our signature: check the {exc.key} secret key")
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
                final = await self.client.payouts.wait(order_id, payout)
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

    # -- reconciling -------------------------------------------------------------------------

    async def _reconcile(self, order_id: str) -> Payout | None:
        """Learn the outcome of a row that may have reached the gateway; send it again only
        when the gateway says it does not know it and the grace period has passed."""
        policy = self.client.payouts.policy
        deadline = time.monotonic() + policy.reconcile_deadline
        polls = 0
        while True:
            entry = self.journal[order_id]
            try:
                payout = await self.client.payouts.status(order_id=order_id)
            except TransactionNotFound:
                if entry.state is RowState.PROCESS:
                    # It answered "process" once, so it exists: never create it again.
                    self._record(order_id, RowState.UNKNOWN, detail="in process, now not found")
                    return None
                since = time.time() - (entry.send_started_at or 0.0)
                if since >= policy.not_found_grace:
                    return await self._send(order_id)
                wait_for = min(policy.not_found_grace - since, deadline - time.monotonic())
                if wait_for <= 0 or not await self._pause(wait_for + 0.01):
                    break
                continue
            except (OutcomeUnknown, ProtocolError, GatewayOutcomeUnknown, RequestNotSent):
                pass  # cannot tell yet: ask again
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


class PreflightError(FreedomPayError):
    """The gateway check before a batch failed (wrong key, unknown merchant, unreachable
    gateway): nothing was sent. ``__cause__`` is the client's error."""


async def _preflight(client: FreedomPayClient) -> None:
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
    on_progress: Callable[[Mapping[RowState, int]], None] | None = None,
    stop: anyio.Event | None = None,
) -> BatchReport:
    """Pay out ``rows`` through ``client``, at most ``concurrency`` at once, and report.

    ``journal`` is a :class:`Journal` or the path of its SQLite file (created if missing;
    ``None`` keeps it in memory, which no crash survives). Given a journal that already holds
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

    At most ``min(concurrency, client connection_limit)`` requests are in flight. Cancelling
    the call leaves the journal consistent (rows in flight stay ``sending``; a resume asks).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if post_link is not None:
        post_link = check.url("post_link", post_link)
    owned = not isinstance(journal, Journal)
    book = journal if isinstance(journal, Journal) else Journal(journal, synchronous=synchronous)
    started = time.monotonic()
    try:
        post_link = post_link or book.post_link
        links: dict[str, str] = {}
        for row in rows:
            link = row.post_link or post_link
            if link is None:
                raise ValidationError(
                    "post_link", f"line {row.line}: no post_link for order {row.order_id}"
                )
            links[row.order_id] = link
        book.start(
            merchant_id=client.merchant_id,
            gateway=gateway or client.base_url,
            rows=rows,
            source=source,
            post_link=post_link,
        )
        if preflight:
            await _preflight(client)
        run = _Run(
            client,
            book,
            {row.order_id: row for row in rows},
            links,
            concurrency=concurrency,
            wait=wait,
            on_progress=on_progress,
        )
        async with anyio.create_task_group() as watcher:
            if stop is not None:

                async def watch(event: anyio.Event) -> None:
                    await event.wait()
                    run.stop("stop requested")

                watcher.start_soon(watch, stop)
            with client._telemetry.batch(book):
                await run.run()
            watcher.cancel_scope.cancel()
        return book.report(stopped=run.stopped, elapsed=time.monotonic() - started)
    finally:
        if owned:
            book.close()
        else:
            book.flush()
