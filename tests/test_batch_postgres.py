"""The PostgreSQL journal against a real server (no mocks): the shared journal suite on both
backends, claiming under contention, leases, fencing, cross-batch uniqueness, and SIGKILL of
one of three worker processes."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import anyio.lowlevel
import asyncpg
import pytest

from freedompay_async import FreedomPayClient, PayoutPolicy
from freedompay_async.batch import (
    BatchReport,
    JournalMismatch,
    PayoutRow,
    PayoutWorker,
    PostgresJournal,
    RowState,
    payout_row,
    read_payout_rows,
    run_payout_batch,
)
from freedompay_async.batch._postgres import PostgresStore
from freedompay_async.testing import Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
OK_CARD = "4405645000006150"
DECLINED = "5325349472901311"
PROCESS_OK = "5507841999732294"
PROCESS_ERROR = "4532676596620704"
CREATE = "g2g/p2p2nonreg"
POST_LINK = "http://127.0.0.1:9/notify"
FAST = PayoutPolicy(
    poll_initial=0.01, poll_max=0.05, wait_deadline=5, reconcile_deadline=1, not_found_grace=0.3
)
TRUTH = {"success": RowState.SUCCESS, "error": RowState.ERROR, "process": RowState.PROCESS}


def rows_for(cards: list[str], prefix: str = "P") -> list[PayoutRow]:
    return [
        payout_row(
            {"order_id": f"{prefix}-{i}", "amount": "9.00", "description": "pg", "card_number": c},
            i + 2,
        )
        for i, c in enumerate(cards)
    ]


def assert_matches_the_emulator(report: BatchReport, emulator: Emulator) -> None:
    for row in report.rows:
        assert emulator.created_count(row.order_id) == 1, row
        assert TRUTH[emulator.payouts[row.order_id].status] is row.state, row


@pytest.fixture
async def client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(
        timeout=aiohttp.ClientTimeout(total=2), payout_policy=FAST
    ) as fp:
        yield fp


@pytest.fixture(params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same journal suite on both backends: a SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "payouts.journal")
    return str(request.getfixturevalue("postgres_url"))


# -- the shared journal suite ---------------------------------------------------------------------


async def test_mixed_outcomes_are_journaled(
    freedompay_emulator: Emulator, client: FreedomPayClient, journal: str
) -> None:
    freedompay_emulator.rules.add(Rule.error(420, "Limit exceeded", order_id="P-4"))
    cards = [OK_CARD, DECLINED, PROCESS_OK, PROCESS_ERROR, OK_CARD, OK_CARD]
    report = await run_payout_batch(
        client, rows_for(cards), journal=journal, concurrency=3, post_link=POST_LINK
    )
    assert [row.state.value for row in report.rows] == [
        "success", "error", "success", "error", "error", "success",
    ]  # fmt: skip
    assert report.rows[4].error_code == 420
    assert report.stopped is None
    assert_matches_the_emulator(report, freedompay_emulator)


async def test_a_lost_answer_is_reconciled_and_a_resume_adds_nothing(
    freedompay_emulator: Emulator, client: FreedomPayClient, journal: str
) -> None:
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, order_id="P-1"))
    rows = rows_for([OK_CARD] * 4)
    report = await run_payout_batch(client, rows, journal=journal, post_link=POST_LINK)
    assert report.all_succeeded
    again = await run_payout_batch(client, rows, journal=journal, post_link=POST_LINK)
    assert again.rows == report.rows  # the same batch: nothing left to do, nothing sent
    assert_matches_the_emulator(again, freedompay_emulator)


async def test_cancelled_mid_batch_then_resumed_pays_every_row_once(
    freedompay_emulator: Emulator, client: FreedomPayClient, journal: str
) -> None:
    freedompay_emulator.faults.add(Fault.latency(0.2, endpoint=CREATE))
    rows = rows_for([OK_CARD] * 12)
    with anyio.move_on_after(0.5):
        await run_payout_batch(client, rows, journal=journal, post_link=POST_LINK, concurrency=3)
    freedompay_emulator.faults.clear()
    report = await run_payout_batch(client, rows, journal=journal, post_link=POST_LINK)
    assert report.all_succeeded
    assert_matches_the_emulator(report, freedompay_emulator)


async def test_stop_starts_no_new_rows(
    freedompay_emulator: Emulator, client: FreedomPayClient, journal: str
) -> None:
    freedompay_emulator.faults.add(Fault.latency(0.2, endpoint=CREATE))
    rows = rows_for([OK_CARD] * 10)
    stop = anyio.Event()

    def progress(counts: object) -> None:
        if freedompay_emulator.created_count("P-0"):
            stop.set()

    report = await run_payout_batch(
        client, rows, journal=journal, post_link=POST_LINK, concurrency=2,
        on_progress=progress, stop=stop,
    )  # fmt: skip
    assert report.stopped == "stop requested"
    assert 0 < report.counts[RowState.SUCCESS] < 10
    assert report.counts[RowState.SENDING] == 0  # rows in flight finished
    for row in report.rows:
        assert freedompay_emulator.created_count(row.order_id) == (row.state is RowState.SUCCESS)


async def test_process_payouts_are_polled_to_the_end(
    freedompay_emulator: Emulator, client: FreedomPayClient, journal: str
) -> None:
    rows = rows_for([PROCESS_OK, PROCESS_ERROR, OK_CARD])
    report = await run_payout_batch(client, rows, journal=journal, post_link=POST_LINK)
    assert [row.state for row in report.rows] == [
        RowState.SUCCESS,
        RowState.ERROR,
        RowState.SUCCESS,
    ]
    assert_matches_the_emulator(report, freedompay_emulator)


# -- PostgreSQL only: submission, claims, leases, fencing ----------------------------------------


async def test_the_same_file_is_the_same_batch_and_an_order_in_another_batch_is_refused(
    postgres_url: str,
) -> None:
    async with PostgresJournal(postgres_url) as db:
        first = await db.submit(merchant_id="1", gateway="g", rows=rows_for([OK_CARD] * 3))
        again = await db.submit(merchant_id="1", gateway="g", rows=rows_for([OK_CARD] * 3))
        assert again == first
        overlapping = rows_for([OK_CARD] * 5)[2:]  # P-2 is in the first batch
        with pytest.raises(JournalMismatch, match=f"order P-2 is already in batch {first}"):
            await db.submit(merchant_id="1", gateway="g", rows=overlapping)
        other_merchant = await db.submit(merchant_id="2", gateway="g", rows=overlapping)
        assert other_merchant != first
        report = await db.report(first)
        assert [row.order_id for row in report.rows] == ["P-0", "P-1", "P-2"]
        assert await db.pool.fetchval("SELECT count(*) FROM freedompay_rows") == 6
        assert await db.pool.fetchval("SELECT count(*) FROM freedompay_batches") == 2


async def test_claims_under_contention_never_hand_out_a_row_twice(postgres_url: str) -> None:
    rows = rows_for([OK_CARD] * 300)
    async with PostgresJournal(postgres_url, max_connections=10) as db:
        batch = await db.submit(merchant_id="1", gateway="g", rows=rows)
        stores = [PostgresStore(db, batch, status_preflight=False) for _ in range(6)]
        for store in stores:
            await store.start(rows)
        claimed: list[str] = []

        async def claim_all(store: PostgresStore) -> None:
            while batch_rows := await store.claim(random.randint(1, 9)):
                claimed.extend(entry.order_id for entry, _ in batch_rows)
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as group:
            for store in stores:
                group.start_soon(claim_all, store)
        assert sorted(claimed) == sorted(row.order_id for row in rows)  # each exactly once
        counts = await db.counts(batch)
        assert counts[RowState.SENDING] == 300
        assert await db.pool.fetchval("SELECT count(DISTINCT owner) FROM freedompay_rows") == 6


async def test_a_workers_counts_hold_what_it_has_not_committed_yet(postgres_url: str) -> None:
    """Progress and the batch span read a worker's counts: the database's, re-read now and
    then, plus the outcomes this worker has queued but not committed (they are committed in
    groups). A re-read between the two must not lose them."""
    rows = rows_for([OK_CARD] * 3)
    async with PostgresJournal(postgres_url) as db:
        batch = await db.submit(merchant_id="1", gateway="g", rows=rows)
        store = PostgresStore(db, batch, status_preflight=False)
        await store.start(rows)
        assert store.counts[RowState.PENDING] == 3
        claimed = await store.claim(3)
        assert store.counts[RowState.PENDING] == 0  # committed by the claim: counted at once
        assert store.counts[RowState.SENDING] == 3
        store.record(claimed[0][0].order_id, RowState.SUCCESS, payment_id=1)
        store.record(claimed[1][0].order_id, RowState.ERROR, error_code=10000)
        await store._refresh(force=True)  # a re-read while both are still queued
        expected = {**dict.fromkeys(RowState, 0), RowState.SUCCESS: 1, RowState.ERROR: 1,
                    RowState.SENDING: 1}  # fmt: skip
        assert dict(store.counts) == expected
        await store.flush()
        assert dict(store.counts) == expected
        assert await db.counts(batch) == expected


async def test_an_expired_lease_means_reconcile_never_resend(
    freedompay_emulator: Emulator, postgres_url: str
) -> None:
    """Worker A claims four rows and dies; two of its requests had reached the gateway. After
    A's lease expires, worker B learns those two from the status endpoint and leaves the other
    two unknown: "not found" within the grace is never a reason to send again."""
    emu = freedompay_emulator
    rows = rows_for([OK_CARD] * 4)
    patient = PayoutPolicy(poll_initial=0.01, poll_max=0.05, reconcile_deadline=0.5,
                           not_found_grace=600)  # fmt: skip
    async with PostgresJournal(postgres_url) as db, emu.client(payout_policy=patient) as fp:
        batch = await db.submit(merchant_id=fp.merchant_id, gateway=fp.base_url, rows=rows,
                                post_link=POST_LINK)  # fmt: skip
        dead = PostgresStore(db, batch, lease=0.5, status_preflight=False)
        await dead.start(rows)
        assert len(await dead.claim(4)) == 4  # "sending" committed, then A is SIGKILLed
        for row in rows[:2]:
            await fp.payouts.to_card(
                order_id=row.order_id,
                amount=row.amount,
                card_number=OK_CARD,
                description="pg",
                post_link=POST_LINK,
            )
        alive = PayoutWorker(fp, db, batch, rows, lease=5)
        report = await alive.run()  # waits for A's lease to expire, then reconciles
    assert [row.state for row in report.rows] == [
        RowState.SUCCESS, RowState.SUCCESS, RowState.UNKNOWN, RowState.UNKNOWN,
    ]  # fmt: skip
    assert [row.attempts for row in report.rows] == [1, 1, 1, 1]
    assert [emu.created_count(row.order_id) for row in rows] == [1, 1, 0, 0]


async def test_a_worker_that_cannot_renew_its_lease_is_fenced(
    freedompay_emulator: Emulator, postgres_url: str
) -> None:
    """Worker A's heartbeat row is locked by someone else, so A cannot renew: within half its
    lease it starts no more requests and returns; B finishes the batch, each row paid once."""
    emu = freedompay_emulator
    emu.faults.add(Fault.latency(0.1, endpoint=CREATE))
    rows = rows_for([OK_CARD] * 40)
    async with PostgresJournal(postgres_url) as db, emu.client(payout_policy=FAST) as fp:
        batch = await db.submit(merchant_id=fp.merchant_id, gateway=fp.base_url, rows=rows,
                                post_link=POST_LINK)  # fmt: skip
        zombie = PayoutWorker(fp, db, batch, rows, concurrency=1, lease=1.0)
        blocker = await asyncpg.connect(postgres_url)
        fenced_at: float | None = None
        try:
            async with anyio.create_task_group() as group:

                async def block_heartbeats() -> None:
                    while not await db.pool.fetchval(  # noqa: ASYNC110 - polling the database
                        "SELECT count(*) FROM freedompay_workers WHERE worker_id = $1",
                        zombie.worker_id,
                    ):
                        await anyio.sleep(0.02)
                    transaction = blocker.transaction()
                    await transaction.start()
                    await blocker.execute(
                        "SELECT * FROM freedompay_workers WHERE worker_id = $1 FOR UPDATE",
                        zombie.worker_id,
                    )

                group.start_soon(block_heartbeats)
                with anyio.fail_after(20):
                    first = await zombie.run()
                fenced_at = time.monotonic()
        finally:
            await blocker.close()
        assert first.stopped is not None
        assert first.stopped.startswith("fenced")
        sent_by_zombie = sum(emu.created_count(row.order_id) for row in rows)
        assert sent_by_zombie < 40  # stopped long before the end (40 rows x 0.1 s)
        await anyio.sleep(0.3)
        assert sum(emu.created_count(row.order_id) for row in rows) == sent_by_zombie
        assert fenced_at is not None
        report = await PayoutWorker(fp, db, batch, rows, concurrency=8, lease=5).run()
    assert report.all_succeeded
    assert_matches_the_emulator(report, emu)


# -- SIGKILL of one of three worker processes ------------------------------------------------------

WORKER_OPTIONS = [
    "--concurrency", "8", "--lease", "1.5s", "--quiet", "--timeout", "1",
    "--poll-initial", "0.02", "--poll-max", "0.1", "--reconcile-deadline", "5",
    "--not-found-grace", "1",
]  # fmt: skip


def start_worker(
    url: str, batch: str, path: Path, base_url: str, log: Path
) -> subprocess.Popen[bytes]:
    """``freedompay payouts worker`` in its own process."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "FREEDOMPAY_MERCHANT_ID": "552893",
        "FREEDOMPAY_SECRET_KEY": "emulator-payment-key",
        "FREEDOMPAY_PAYOUT_SECRET_KEY": "emulator-payout-key",
        "FREEDOMPAY_BASE_URL": base_url,
    }
    command = ["payouts", "worker", "--journal", url, "--batch", batch, "--file", str(path)]
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and console script
            [sys.executable, "-m", "freedompay_async.cli", *command, *WORKER_OPTIONS],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )


@pytest.mark.parametrize("seed", [1, 2])
async def test_sigkill_of_one_of_three_workers_pays_every_order_once(
    freedompay_emulator: Emulator, postgres_url: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    emu = freedompay_emulator
    emu.faults.add(Fault.latency(0.01, endpoint=CREATE))
    cards = [OK_CARD] * 8 + [DECLINED, PROCESS_OK, PROCESS_ERROR]
    path = tmp_path / "batch.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "amount", "description", "card_number", "post_link"])
        for index in range(400):
            writer.writerow([f"K-{index:04d}", "10.00", "kill", rng.choice(cards), POST_LINK])
    rows = read_payout_rows(path)
    async with PostgresJournal(postgres_url) as db:
        batch = await db.submit(merchant_id="552893", gateway=emu.url, rows=rows)
        log = tmp_path / "workers.log"
        workers = [start_worker(postgres_url, batch, path, emu.url, log) for _ in range(3)]
        victim = workers[rng.randrange(3)]
        try:
            kill_after = rng.randint(20, 300)  # rows done before the SIGKILL
            with anyio.fail_after(60):
                while victim.poll() is None:
                    counts = await db.counts(batch)
                    if 400 - counts[RowState.PENDING] >= kill_after:
                        victim.send_signal(signal.SIGKILL)
                        break
                    await anyio.sleep(0.01)
                victim.wait()
                while any(w.poll() is None for w in workers):  # noqa: ASYNC110 - processes
                    await anyio.sleep(0.05)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        report = await db.report(batch)
        sending_left = report.counts[RowState.SENDING] + report.counts[RowState.UNKNOWN]
        print(
            f"kill test seed {seed}: killed after {kill_after} rows; "
            f"{ {s.value: n for s, n in report.counts.items()} }; "
            f"created once: {sum(emu.created_count(r.order_id) == 1 for r in report.rows)}; "
            f"twice or more: {sum(emu.created_count(r.order_id) > 1 for r in report.rows)}"
        )
    assert sending_left == 0, log.read_text()
    assert_matches_the_emulator(report, emu)
    assert victim.returncode == -signal.SIGKILL
    survivors = [worker for worker in workers if worker is not victim]
    # 1: some rows are declined by the emulator (as `payouts run` says it)
    assert all(worker.returncode == 1 for worker in survivors), log.read_text()


# -- pacing ----------------------------------------------------------------------------------------


async def test_max_rate_paces_the_requests(
    freedompay_emulator: Emulator, client: FreedomPayClient, journal: str
) -> None:
    rows = rows_for([OK_CARD] * 12)
    started = time.monotonic()
    report = await run_payout_batch(
        client, rows, journal=journal, post_link=POST_LINK, concurrency=12, max_rate=20,
        status_preflight=False,
    )  # fmt: skip
    assert report.all_succeeded
    assert time.monotonic() - started >= 11 / 20 * 0.9  # 12 creates at 20/s: 0.55 s at least


async def test_the_batch_rate_is_shared_by_the_live_workers(postgres_url: str) -> None:
    rows = rows_for([OK_CARD] * 2)
    async with PostgresJournal(postgres_url) as db:
        batch = await db.submit(merchant_id="1", gateway="g", rows=rows, max_rate=30)
        workers = [PostgresStore(db, batch, lease=5) for _ in range(3)]
        for store in workers:
            await store.start(rows)
        for store in workers:
            await store.renew()
        assert [store.rate for store in workers] == [10.0, 10.0, 10.0]
        await workers[2].stop()  # retired: the two left take half each
        await workers[0].renew()
        assert workers[0].rate == 15.0


async def test_a_journal_database_that_fails_mid_batch_stops_the_worker_with_a_journal_error(
    freedompay_emulator: Emulator, postgres_url: str
) -> None:
    from freedompay_async.batch import JournalError

    emu = freedompay_emulator
    emu.faults.add(Fault.latency(0.05, endpoint=CREATE))
    rows = rows_for([OK_CARD] * 30)
    async with PostgresJournal(postgres_url) as db, emu.client(payout_policy=FAST) as fp:
        batch = await db.submit(merchant_id=fp.merchant_id, gateway=fp.base_url, rows=rows,
                                post_link=POST_LINK)  # fmt: skip
        saboteur = await asyncpg.connect(postgres_url)
        worker = PayoutWorker(fp, db, batch, rows, concurrency=2)
        try:
            async with anyio.create_task_group() as group:

                async def sabotage() -> None:
                    while len(emu.payouts) < 3:  # noqa: ASYNC110 - watching the emulator
                        await anyio.sleep(0.01)
                    await saboteur.execute("ALTER TABLE freedompay_rows RENAME TO gone")

                group.start_soon(sabotage)
                with pytest.raises(JournalError, match="PostgreSQL journal"):
                    await worker.run()
        finally:
            await saboteur.close()
    assert 3 <= len(emu.payouts) < 30  # it stopped starting rows


async def test_a_worker_refuses_a_batch_of_another_merchant_or_gateway(
    freedompay_emulator: Emulator, client: FreedomPayClient, postgres_url: str
) -> None:
    rows = rows_for([OK_CARD])
    async with PostgresJournal(postgres_url) as db:
        other = await db.submit(merchant_id="999", gateway=client.base_url, rows=rows,
                                post_link=POST_LINK)  # fmt: skip
        with pytest.raises(JournalMismatch, match="belongs to merchant 999"):
            await PayoutWorker(client, db, other, rows).run()
        moved = rows_for([OK_CARD], prefix="Q")
        elsewhere = await db.submit(merchant_id=client.merchant_id, gateway="http://other",
                                    rows=moved, post_link=POST_LINK)  # fmt: skip
        with pytest.raises(JournalMismatch, match="submitted for http://other"):
            await PayoutWorker(client, db, elsewhere, moved).run()
    assert not freedompay_emulator.payouts
