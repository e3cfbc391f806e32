"""A payout worker on a PostgreSQL journal: one of many, on any machine, for as long as the
batch has rows it can act on.

::

    async with PostgresJournal("postgresql://payouts@db/payouts") as db:
        worker = PayoutWorker(client, db, batch_id, rows, concurrency=20, lease=30)
        report = await worker.run()          # or: start it in your service's task group

The worker renews its lease every third of it; when it cannot for half the lease it stops
starting requests (fenced) and returns, leaving its rows for live workers to reconcile.
``stop`` (an :class:`anyio.Event`) stops claiming and lets the rows in flight finish.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import anyio

from .. import _validation as check
from ..errors import FreedomPayError, SecretKeyRejected
from ._postgres import PostgresJournal, PostgresStore
from ._rows import PayoutRow
from ._runner import Pacer, _Run, check_gateway, notification_urls
from ._store import BatchReport, JournalError, JournalMismatch, RowState

if TYPE_CHECKING:
    from ..client import FreedomPayClient

__all__ = ["PayoutWorker", "submit_payout_batch"]

logger = logging.getLogger("freedompay_async.batch")


class PayoutWorker:
    """Claims and pays the rows of batch ``batch_id`` (``rows``: the batch's file as this
    worker read it; checked against the journal's digests before anything is sent). The batch
    must be this client's merchant's, submitted for the same ``gateway`` (default: the
    client's base URL), or :class:`JournalMismatch` is raised before anything is sent."""

    def __init__(
        self,
        client: FreedomPayClient,
        journal: PostgresJournal,
        batch_id: str,
        rows: Sequence[PayoutRow],
        *,
        concurrency: int = 20,
        lease: float = 30.0,
        wait: bool = True,
        status_preflight: bool = True,
        post_link: str | None = None,
        on_progress: Callable[[Mapping[RowState, int]], None] | None = None,
        stop: anyio.Event | None = None,
        worker_id: str | None = None,
        gateway: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.journal = journal
        self.batch_id = batch_id
        self.rows = rows
        self.concurrency = concurrency
        self.wait = wait
        self.post_link = post_link
        self.on_progress = on_progress
        self.stop_event = stop
        #: The gateway's name as the batch was submitted (default: the client's base URL).
        self.gateway = gateway
        self.store = PostgresStore(
            journal, batch_id, lease=lease, status_preflight=status_preflight, worker_id=worker_id
        )

    @property
    def worker_id(self) -> str:
        return self.store.worker_id

    async def run(self) -> BatchReport:
        """Work until no row is left this worker can act on (or a stop, or fencing); the
        batch's report as it stands then."""
        started = time.monotonic()
        batch = await self.journal.batch(self.batch_id)
        if batch["merchant_id"] != self.client.merchant_id:
            raise JournalMismatch(
                f"batch {self.batch_id} belongs to merchant {batch['merchant_id']}, "
                f"not {self.client.merchant_id}"
            )
        gateway = self.gateway or self.client.base_url
        if batch["gateway"] != gateway:
            raise JournalMismatch(
                f"batch {self.batch_id} was submitted for {batch['gateway']}, not {gateway}"
            )
        default_link = self.post_link or batch["post_link"] or None
        if default_link is not None:
            default_link = check.url("post_link", default_link)
        links = notification_urls(self.rows, default_link)
        store = self.store
        await store.start(self.rows)
        pacer = Pacer(store.rate)
        run = _Run(
            self.client,
            store,
            {row.order_id: row for row in self.rows},
            links,
            concurrency=self.concurrency,
            wait=self.wait,
            on_progress=self.on_progress,
            pacer=pacer,
        )
        try:
            async with anyio.create_task_group() as group:

                async def heartbeat() -> None:
                    while True:
                        await anyio.sleep(store.lease / 3)
                        try:
                            with anyio.fail_after(store.lease / 3):
                                await store.renew()
                        except Exception as exc:  # any failure: fencing decides
                            logger.info("worker %s: heartbeat failed: %s", store.worker_id, exc)
                            continue
                        pacer.rate = store.rate

                group.start_soon(heartbeat)
                if self.stop_event is not None:

                    async def watch(event: anyio.Event) -> None:
                        await event.wait()
                        run.stop("stop requested")

                    group.start_soon(watch, self.stop_event)
                try:
                    await run.run()
                except (JournalError, SecretKeyRejected) as exc:
                    failure: FreedomPayError | None = exc  # raised as is, not in a group
                else:
                    failure = None
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await store.stop()
        if failure is not None:
            raise failure
        if not store.may_send and run.stopped is None:
            run.stopped = "fenced: the lease could not be renewed"
        report = await self.journal.report(self.batch_id)
        return BatchReport(
            merchant_id=report.merchant_id,
            gateway=report.gateway,
            rows=report.rows,
            source=report.source,
            stopped=run.stopped,
            elapsed=time.monotonic() - started,
            batch_id=self.batch_id,
        )


async def submit_payout_batch(
    client: FreedomPayClient,
    rows: Sequence[PayoutRow],
    journal: PostgresJournal,
    *,
    gateway: str | None = None,
    source: str | None = None,
    post_link: str | None = None,
    max_rate: float | None = None,
    preflight: bool = True,
) -> str:
    """Store a batch in a PostgreSQL journal for workers to pay; its id. Every row needs a
    notification URL (its own or ``post_link``); unless ``preflight`` is false one balance
    request first proves the keys and the gateway work. The same rows again: the same id,
    nothing added; an order id already in another batch: :class:`JournalMismatch`."""
    if post_link is not None:
        post_link = check.url("post_link", post_link)
    notification_urls(rows, post_link)  # every row has one, or nothing is stored
    if preflight:
        await check_gateway(client)
    return await journal.submit(
        merchant_id=client.merchant_id,
        gateway=gateway or client.base_url,
        rows=rows,
        source=source,
        post_link=post_link,
        max_rate=max_rate,
    )
