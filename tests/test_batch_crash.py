"""Crash test: a batch run by ``freedompay`` in a subprocess is SIGKILLed at random points -
while rows are in flight, during a resume too - then resumed to the end. Every row must have
been created exactly once on the emulator, and the journal must agree with the emulator.

``FREEDOMPAY_CRASH_KILLS`` sets the number of kills (default 3), ``FREEDOMPAY_CRASH_SEED`` the
random seed (printed, so a failure can be replayed).
"""

from __future__ import annotations

import csv
import functools
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from freedompay_async.batch import BatchReport, Journal, JournalError, RowState
from freedompay_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("FREEDOMPAY_CRASH_KILLS", "3"))
SEED = int(os.environ.get("FREEDOMPAY_CRASH_SEED", str(random.randrange(1 << 32))))
ROWS = 300
MERCHANT = "552893"
PAYMENT_KEY = "crash-test-payment-secret"
PAYOUT_KEY = "crash-test-payout-secret"
CARDS = (
    ["4405645000006150"] * 12
    + ["5325349472901311", "4556046085041740"]  # declined
    + ["5507841999732294", "4532676596620704"]  # process, then success / error
)
OPTIONS = [
    "--concurrency", "20", "--quiet", "--timeout", "2",
    "--poll-initial", "0.02", "--poll-max", "0.1", "--reconcile-deadline", "5",
    "--not-found-grace", "2",
]  # fmt: skip


def write_rows(path: Path, rng: random.Random) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "amount", "description", "card_number"])
        for index in range(ROWS):
            writer.writerow(
                [f"K-{index:04d}", f"{rng.randrange(100, 99999)}.00", "crash", rng.choice(CARDS)]
            )


def start(command: list[str], url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "FREEDOMPAY_MERCHANT_ID": MERCHANT,
        "FREEDOMPAY_SECRET_KEY": PAYMENT_KEY,
        "FREEDOMPAY_PAYOUT_SECRET_KEY": PAYOUT_KEY,
        "FREEDOMPAY_BASE_URL": url,
        "FREEDOMPAY_POST_LINK": "http://127.0.0.1:9/notify",
    }
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "freedompay_async.cli", "payouts", *command, *OPTIONS],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )


def snapshot(journal: Path) -> BatchReport | None:
    try:
        return Journal.read_report(journal) if journal.exists() else None
    except JournalError:
        return None  # being created


def not_pending(report: BatchReport | None) -> int:
    return 0 if report is None or not report.rows else ROWS - report.counts[RowState.PENDING]


async def run_and_kill(
    child: subprocess.Popen[bytes], journal: Path, rng: random.Random
) -> tuple[bool, int]:
    """SIGKILL ``child`` once a random number of further rows left ``pending`` (or, when none
    are left, at a random moment). Returns (killed, rows in ``sending`` right after)."""
    before = not_pending(snapshot(journal))
    remaining = ROWS - before
    target = before + rng.randint(1, min(remaining, 150)) if remaining else None
    deadline = time.monotonic() + (rng.uniform(0.2, 1.5) if target is None else 30)
    while child.poll() is None:
        current = snapshot(journal)
        if (target is not None and not_pending(current) >= target) or time.monotonic() > deadline:
            child.send_signal(signal.SIGKILL)
            child.wait()
            after = snapshot(journal)
            return True, 0 if after is None else after.counts[RowState.SENDING]
        await anyio.sleep(0.005)
    return False, 0


async def test_sigkill_at_random_points_then_resume_pays_every_row_once(tmp_path: Path) -> None:
    print(f"crash test: {KILLS} kills, FREEDOMPAY_CRASH_SEED={SEED}")
    rng = random.Random(SEED)
    rows, journal, log = tmp_path / "rows.csv", tmp_path / "rows.journal", tmp_path / "log"
    write_rows(rows, rng)
    async with Emulator(
        merchant_id=MERCHANT,
        secret_key=PAYMENT_KEY,
        payout_secret_key=PAYOUT_KEY,
        balance=Decimal("100000000000"),
        notify_retry_delays=(),
    ) as emulator:
        # The bank takes its time: rows are mid-flight when the kill comes.
        emulator.faults.add(Fault.latency(0.03, endpoint="g2g/p2p2nonreg"))
        in_flight_at_kills: list[int] = []
        command = ["run", str(rows), "--journal", str(journal)]
        for _ in range(KILLS):
            child = start(command, emulator.url, log)
            killed, sending = await run_and_kill(child, journal, rng)
            if killed:
                in_flight_at_kills.append(sending)
            command = ["resume", str(journal)]
        final = start(command, emulator.url, log)
        # Waited for in a thread, so the emulator keeps serving; TimeoutExpired after 60 s.
        await anyio.to_thread.run_sync(functools.partial(final.wait, 60))
        assert final.returncode in (0, 1), log.read_text()
        report = Journal.read_report(journal)
        resent = sum(row.attempts > 1 for row in report.rows)
        print(f"rows in flight at each kill: {in_flight_at_kills}; rows sent again: {resent}")

        assert in_flight_at_kills, "no kill landed before the batch ended"
        assert any(in_flight_at_kills), f"no kill caught rows in flight: {in_flight_at_kills}"
        assert len(report.rows) == ROWS
        assert len(emulator.payouts) == ROWS
        truth = {"success": RowState.SUCCESS, "error": RowState.ERROR}
        for row in report.rows:
            payout = emulator.payouts[row.order_id]
            assert emulator.created_count(row.order_id) == 1, (row, log.read_text())
            assert row.state is truth[payout.status], row
            assert row.payment_id == payout.payment_id, row
            assert row.amount == payout.amount, row


@pytest.mark.parametrize("signals", [1, 2])
async def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path, signals: int) -> None:
    """One Ctrl-C: no new rows, the rows in flight finish (none left in doubt); a second one
    aborts at once. Either way: exit status 130, and a resume pays every row exactly once."""
    rng = random.Random(SEED)
    rows, journal, log = tmp_path / "rows.csv", tmp_path / "rows.journal", tmp_path / "log"
    write_rows(rows, rng)
    async with Emulator(
        merchant_id=MERCHANT,
        secret_key=PAYMENT_KEY,
        payout_secret_key=PAYOUT_KEY,
        balance=Decimal("100000000000"),
        notify_retry_delays=(),
    ) as emulator:
        emulator.faults.add(Fault.latency(0.03, endpoint="g2g/p2p2nonreg"))
        child = start(["run", str(rows), "--journal", str(journal)], emulator.url, log)
        while True:  # until the batch is well under way
            if not_pending(snapshot(journal)) >= 60:
                break
            await anyio.sleep(0.005)
        for _ in range(signals):
            child.send_signal(signal.SIGINT)
            await anyio.sleep(0.01)
        await anyio.to_thread.run_sync(functools.partial(child.wait, 30))
        assert child.returncode == 130, log.read_text()
        assert ("aborting" in log.read_text()) is (signals == 2)
        stopped = Journal.read_report(journal)
        assert stopped.counts[RowState.PENDING] > 0
        if signals == 1:  # the rows in flight were allowed to finish
            assert stopped.counts[RowState.SENDING] == 0, log.read_text()
        final = start(["resume", str(journal)], emulator.url, log)
        await anyio.to_thread.run_sync(functools.partial(final.wait, 60))
        assert final.returncode in (0, 1), log.read_text()
        report = Journal.read_report(journal)
        for row in report.rows:
            assert emulator.created_count(row.order_id) == 1, row
            assert row.state.is_final, row
