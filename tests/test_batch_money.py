"""The journal's money rules (issue 11): re-sends only after a signed fresh "not found" and a
grace from the last send; a status preflight so a second journal never pays again; the journal
at rest is one file; outcomes are on disk within 0.2 s while slots wait."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import anyio
import attrs
import pytest

from freedompay_async import FreedomPayClient, PayoutPolicy
from freedompay_async.batch import Journal, PayoutRow, RowState, payout_row, run_payout_batch
from freedompay_async.testing import Emulator, EmulatorSettings, Fault

pytestmark = pytest.mark.anyio

OK_CARD = "4405645000006150"
DECLINED = "5325349472901311"
PROCESS_OK = "5507841999732294"
CREATE = "g2g/p2p2nonreg"
STATUS_PATHS = ("g2g/payout_status2", "g2g/payout_status")
POST_LINK = "http://127.0.0.1:9/notify"


def rows_for(cards: list[str], prefix: str = "M") -> list[PayoutRow]:
    return [
        payout_row(
            {"order_id": f"{prefix}-{i}", "amount": "7.00", "description": "d", "card_number": c},
            i + 2,
        )
        for i, c in enumerate(cards)
    ]


def policy(**changes: float) -> PayoutPolicy:
    base = PayoutPolicy(poll_initial=0.01, poll_max=0.05, wait_deadline=2, reconcile_deadline=0.5)
    return attrs.evolve(base, **changes)


@pytest.fixture
def freedompay_emulator_settings() -> EmulatorSettings:
    """A gateway that does not refuse repeated order ids: a second create pays again."""
    return EmulatorSettings(
        merchant_id="552893",
        secret_key="emulator-payment-key",
        payout_secret_key="emulator-payout-key",
        refuse_duplicate_orders=False,
    )


@pytest.fixture
async def client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(
        timeout=aiohttp.ClientTimeout(total=2), payout_policy=policy(not_found_grace=60)
    ) as fp:
        yield fp


# -- re-sends: a signed fresh "not found" and the grace from the last send --------------------


async def test_a_lagging_status_never_causes_a_second_create_within_the_grace(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    emu = freedompay_emulator
    emu.faults.add(Fault.status_lag(2.0))  # signed "not found" for 2 s after the create
    emu.faults.add(Fault.drop_after_commit(endpoint=CREATE, order_id="M-0"))
    rows = rows_for([OK_CARD, OK_CARD])
    journal = tmp_path / "j.sqlite"
    first = await run_payout_batch(
        client, rows, journal=journal, post_link=POST_LINK, status_preflight=False
    )
    assert first.rows[0].state is RowState.UNKNOWN
    resumed = await run_payout_batch(client, rows, journal=journal)  # status still lags
    assert resumed.rows[0].state is RowState.UNKNOWN
    assert emu.created_count("M-0") == 1  # "not found" within the grace: never sent again
    await anyio.sleep(2.0)
    settled = await run_payout_batch(client, rows, journal=journal)
    assert settled.all_succeeded
    assert settled.rows[0].attempts == 1
    assert emu.created_count("M-0") == 1
    assert emu.created_count("M-1") == 1


async def test_a_resend_waits_for_the_grace_counted_from_the_last_send(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    """Sent twice (neither reached the gateway), then resumed: the re-send comes one grace
    after the *last* send - not after the first send, not after the first "not found"."""
    rows = rows_for([OK_CARD])
    path = tmp_path / "j.sqlite"
    grace = 1.2
    async with freedompay_emulator.client(
        payout_policy=policy(not_found_grace=grace, reconcile_deadline=10)
    ) as client:
        with Journal(path) as journal:
            journal.start(
                merchant_id=client.merchant_id, gateway=client.base_url, rows=rows,
                post_link=POST_LINK,
            )  # fmt: skip
            journal.transition("M-0", RowState.SENDING)
            await anyio.sleep(0.6)
            last = journal.transition("M-0", RowState.SENDING).send_started_at
        await anyio.sleep(0.6)  # the first "not found" comes now
        report = await run_payout_batch(client, rows, journal=path)
    assert report.all_succeeded
    assert freedompay_emulator.created_count("M-0") == 1
    with Journal(path) as journal:
        sends = [at for at, _, _, to, _ in journal.events("M-0") if to == "sending"]
    assert last is not None
    assert len(sends) == 3
    assert grace <= sends[-1] - last < grace + 0.5


async def test_a_row_that_answered_process_is_never_sent_again(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    rows = rows_for([OK_CARD])
    path = tmp_path / "j.sqlite"
    async with freedompay_emulator.client(payout_policy=policy(not_found_grace=0)) as client:
        with Journal(path) as journal:
            journal.start(
                merchant_id=client.merchant_id, gateway=client.base_url, rows=rows,
                post_link=POST_LINK,
            )  # fmt: skip
            journal.transition("M-0", RowState.SENDING)
            journal.transition("M-0", RowState.PROCESS, payment_id=77)
        for _ in range(2):  # process -> unknown, then unknown stays unknown
            report = await run_payout_batch(client, rows, journal=path)
            assert report.rows[0].state is RowState.UNKNOWN
    assert freedompay_emulator.created_count("M-0") == 0


# -- the status preflight: the same file under a second journal pays nothing again ------------


async def test_the_same_file_under_a_second_journal_pays_nothing_again(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    emu = freedompay_emulator
    rows = rows_for([OK_CARD, DECLINED, PROCESS_OK, OK_CARD])
    first = await run_payout_batch(client, rows, journal=tmp_path / "a", post_link=POST_LINK)
    second = await run_payout_batch(client, rows, journal=tmp_path / "b", post_link=POST_LINK)
    assert [r.state for r in second.rows] == [r.state for r in first.rows]
    assert [r.state for r in second.rows] == [
        RowState.SUCCESS, RowState.ERROR, RowState.SUCCESS, RowState.SUCCESS,
    ]  # fmt: skip
    assert [r.attempts for r in second.rows] == [0, 0, 0, 0]  # learnt, never sent
    assert [r.payment_id for r in second.rows] == [r.payment_id for r in first.rows]
    assert all(emu.created_count(row.order_id) == 1 for row in rows)


async def test_a_process_payout_found_by_the_preflight_is_polled_to_its_end(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    rows = rows_for([PROCESS_OK])
    first = await run_payout_batch(client, rows, post_link=POST_LINK, wait=False)
    assert first.rows[0].state is RowState.PROCESS
    second = await run_payout_batch(client, rows, post_link=POST_LINK)
    assert second.rows[0].state is RowState.SUCCESS
    assert freedompay_emulator.created_count("M-0") == 1


async def test_without_the_preflight_a_second_journal_pays_again(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    """What ``--no-status-preflight`` knowingly gives up (this gateway repeats order ids)."""
    rows = rows_for([OK_CARD])
    await run_payout_batch(client, rows, post_link=POST_LINK)
    await run_payout_batch(client, rows, post_link=POST_LINK, status_preflight=False)
    assert freedompay_emulator.created_count("M-0") == 2


async def test_a_status_preflight_that_cannot_be_learnt_never_sends_blind(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    emu = freedompay_emulator
    emu.faults.add(Fault.http_error(503, endpoint=STATUS_PATHS[0], order_id="M-1"))
    emu.faults.add(Fault.unsigned(endpoint=STATUS_PATHS[0], order_id="M-2"))
    rows = rows_for([OK_CARD, OK_CARD, OK_CARD])
    journal = tmp_path / "j"
    report = await run_payout_batch(client, rows, journal=journal, post_link=POST_LINK)
    assert [r.state for r in report.rows] == [RowState.SUCCESS, RowState.UNKNOWN, RowState.UNKNOWN]
    assert [emu.created_count(r.order_id) for r in rows] == [1, 0, 0]
    emu.faults.clear()
    resumed = await run_payout_batch(client, rows, journal=journal)
    assert resumed.all_succeeded
    assert [emu.created_count(r.order_id) for r in rows] == [1, 1, 1]


# -- the journal at rest is one file ------------------------------------------------------------


def journal_files(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name)}


async def test_after_a_run_the_journal_is_one_file_and_a_copy_of_it_resumes(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    emu = freedompay_emulator
    path = tmp_path / "run" / "payouts.journal"
    path.parent.mkdir()
    rows = rows_for([OK_CARD] * 3)
    await run_payout_batch(client, rows, journal=path, post_link=POST_LINK)
    files = journal_files(path)
    assert set(files) - {"payouts.journal"} <= {"payouts.journal-wal"}
    assert files.get("payouts.journal-wal", 0) == 0
    copy = tmp_path / "copy.journal"
    shutil.copyfile(path, copy)  # the main file alone
    again = await run_payout_batch(client, rows, journal=copy)
    assert again.all_succeeded
    assert [r.attempts for r in again.rows] == [1, 1, 1]
    assert all(emu.created_count(r.order_id) == 1 for r in rows)


async def test_after_an_interrupted_run_the_journal_is_one_file_and_a_copy_resumes(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    emu = freedompay_emulator
    emu.faults.add(Fault.latency(0.3, endpoint=CREATE))
    path = tmp_path / "run" / "payouts.journal"
    path.parent.mkdir()
    rows = rows_for([OK_CARD] * 8)
    with anyio.move_on_after(0.5):  # cancelled with rows in flight (an abort)
        await run_payout_batch(client, rows, journal=path, post_link=POST_LINK, concurrency=2)
    files = journal_files(path)
    assert files.get("payouts.journal-wal", 0) == 0, files
    assert "payouts.journal-shm" not in files
    emu.faults.clear()
    copy = tmp_path / "copy.journal"
    shutil.copyfile(path, copy)
    before = Journal.read_report(copy).rows
    assert before == Journal.read_report(path).rows  # the main file holds everything
    in_flight = {r.order_id for r in before if r.state is RowState.SENDING}
    assert in_flight
    report = await run_payout_batch(client, rows, journal=copy, concurrency=4)
    for row in report.rows:
        assert emu.created_count(row.order_id) <= 1
        if row.order_id not in in_flight:
            assert row.state is RowState.SUCCESS
        if row.state is RowState.SUCCESS:
            assert emu.created_count(row.order_id) == 1


# -- durable progress during a resume -----------------------------------------------------------


async def test_outcomes_learnt_while_other_slots_wait_are_on_disk_within_the_flush_interval(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    """Resume: one row was never received (waits for the grace), the others are learnt from
    the status endpoint; a second connection sees them on disk within ~0.5 s."""
    emu = freedompay_emulator
    rows = rows_for([OK_CARD] * 4)
    path = tmp_path / "j.sqlite"
    async with emu.client(payout_policy=policy(not_found_grace=30, reconcile_deadline=30)) as fp:
        with Journal(path) as journal:
            journal.start(
                merchant_id=fp.merchant_id, gateway=fp.base_url, rows=rows, post_link=POST_LINK
            )
            for row in rows:
                journal.transition(row.order_id, RowState.SENDING)
        for row in rows[1:]:  # these reached the gateway; M-0 did not
            await fp.payouts.to_card(
                order_id=row.order_id, amount=Decimal("7.00"), card_number=OK_CARD,
                description="d", post_link=POST_LINK,
            )  # fmt: skip
        stop = anyio.Event()
        seen: list[str] = []
        async with anyio.create_task_group() as group:

            async def resume() -> None:
                await run_payout_batch(fp, rows, journal=path, stop=stop)

            group.start_soon(resume)
            started = time.monotonic()
            while time.monotonic() - started < 5:
                await anyio.sleep(0.05)
                reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    seen = [s for (s,) in reader.execute("SELECT state FROM rows ORDER BY seq")]
                finally:
                    reader.close()
                if seen[1:] == ["success"] * 3:
                    break
            took = time.monotonic() - started
            stop.set()
    assert seen == ["sending", "success", "success", "success"]
    assert took < 1.5  # answers ~0.1 s + commit within 0.2 s; generous for a loaded machine
    assert emu.created_count("M-0") == 0


# -- the CLI: the grace and journal I/O errors ---------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREEDOMPAY_")}
    return subprocess.run(  # noqa: S603 - our own console script
        [sys.executable, "-m", "freedompay_async.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        check=False,
    )


def write_file(path: Path) -> Path:
    path.write_text(f"order_id,amount,description,card_number\nI-1,5.00,d,{OK_CARD}\n")
    return path


def test_the_cli_refuses_a_not_found_grace_under_the_request_timeout(tmp_path: Path) -> None:
    file = write_file(tmp_path / "b.csv")
    result = cli("payouts", "run", str(file), "--emulator", "--not-found-grace", "5", cwd=tmp_path)
    assert result.returncode == 2
    assert "--not-found-grace" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b.csv.journal").exists()  # nothing started, nothing sent


@pytest.mark.parametrize(
    "where",
    ["missing-folder/j", "a-file/j", "read-only-file", "read-only-folder/j"],
)
def test_journal_io_errors_are_one_line_and_exit_2(tmp_path: Path, where: str) -> None:
    file = write_file(tmp_path / "b.csv")
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "read-only-file").write_bytes(b"")
    (tmp_path / "read-only-file").chmod(0o400)
    (tmp_path / "read-only-folder").mkdir()
    (tmp_path / "read-only-folder").chmod(0o500)
    if where.startswith("read-only") and os.geteuid() == 0:
        pytest.skip("root writes through read-only permissions")
    journal = str(tmp_path / where)
    if where == "read-only-file":  # an existing journal that cannot be written: resume
        args = ["payouts", "resume", journal, "--file", str(file), "--emulator"]
    else:
        args = ["payouts", "run", str(file), "--journal", journal, "--emulator"]
    result = cli(*args, "--quiet", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "journal" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


# -- a refused secret key: nothing paid, the batch stops, the rows stay pending ------------------


@pytest.mark.parametrize("status_preflight", [True, False])
async def test_a_refused_secret_key_stops_the_batch_with_rows_pending(
    freedompay_emulator: Emulator, tmp_path: Path, status_preflight: bool
) -> None:
    from freedompay_async.errors import SecretKeyRejected

    rows = rows_for([OK_CARD] * 6)
    journal = tmp_path / "j"
    async with freedompay_emulator.client(payout_secret_key="not-the-key") as wrong:
        with pytest.raises(SecretKeyRejected) as caught:
            await run_payout_batch(
                wrong, rows, journal=journal, post_link=POST_LINK, concurrency=2,
                preflight=False, status_preflight=status_preflight,
            )  # fmt: skip
    assert caught.value.key == "payout"
    assert not freedompay_emulator.payouts  # nothing was paid
    states = {row.state for row in Journal.read_report(journal).rows}
    assert states == {RowState.PENDING}
    async with freedompay_emulator.client() as right:  # the key fixed: the resume pays once
        report = await run_payout_batch(right, rows, journal=journal)
    assert report.all_succeeded
    assert all(freedompay_emulator.created_count(row.order_id) == 1 for row in rows)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a tiny tmpfs filled to the last byte (needs root and mount: else skipped)."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(  # noqa: S603
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tiny tmpfs here (needs root)")
    try:
        descriptor = os.open(folder / "filler", os.O_CREAT | os.O_WRONLY)
        try:
            while True:
                os.write(descriptor, b"\0" * 4096)
        except OSError:  # ENOSPC: full
            pass
        finally:
            os.close(descriptor)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)  # noqa: S603, S607


def test_a_full_disk_at_start_is_one_line_and_exit_2(full_disk: Path, tmp_path: Path) -> None:
    file = write_file(tmp_path / "b.csv")
    journal = full_disk / "payouts.journal"
    result = cli("payouts", "run", str(file), "--journal", str(journal), "--emulator", "--quiet",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "journal" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_a_read_only_journal_or_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Read-only for root too: a tmpfs remounted read-only (needs mount: else skipped)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],  # noqa: S603, S607
                      capture_output=True, check=False).returncode != 0:  # fmt: skip
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        file = write_file(tmp_path / "b.csv")
        journal = folder / "payouts.journal"
        first = cli("payouts", "run", str(file), "--journal", str(journal), "--emulator",
                    "--quiet", "--no-wait", cwd=tmp_path)  # fmt: skip
        assert first.returncode in (0, 1), first.stderr
        remount = ["mount", "-o", "remount,ro", str(folder)]
        subprocess.run(remount, check=True, capture_output=True)  # noqa: S603
        for args in (
            ["payouts", "resume", str(journal), "--file", str(file), "--emulator"],
            ["payouts", "run", str(file), "--journal", str(folder / "new.journal"), "--emulator"],
        ):
            result = cli(*args, "--quiet", cwd=tmp_path)
            assert result.returncode == 2, result.stderr
            assert "Traceback" not in result.stderr
            assert "journal" in result.stderr
            assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
    finally:
        subprocess.run(["umount", str(folder)], check=False)  # noqa: S603, S607
