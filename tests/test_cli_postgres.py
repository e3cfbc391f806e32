"""The ``payouts`` commands on a PostgreSQL journal: submit (same file, same batch id; an order
in another batch refused), worker, run, resume, report and watch, against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from test_cli import CARDS, FAST, OK_CARD, emulator, env_for, invoke, write_batch

from freedompay_async.testing import Emulator, Fault

__all__ = ["emulator"]  # the fixture, shared with test_cli


@pytest.fixture
def url(postgres_server: str) -> Iterator[str]:
    name = f"fp_cli_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(postgres_server)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield f"{postgres_server.rpartition('/')[0]}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_submit_then_workers_pay_every_row_once(
    emulator: Emulator, url: str, tmp_path: Path
) -> None:
    rows = write_batch(tmp_path / "batch.csv", CARDS)
    env = env_for(emulator)
    first = invoke(["payouts", "submit", str(rows), "--journal", url], env)
    assert first.exit_code == 0, first.stderr
    batch = first.stdout.strip().splitlines()[-1]
    assert batch.startswith("b-")
    again = invoke(["payouts", "submit", str(rows), "--journal", url], env)
    assert again.stdout.strip().splitlines()[-1] == batch  # the same batch, nothing added
    worker = invoke(
        ["payouts", "worker", "--journal", url, "--batch", batch, "--quiet", "--lease", "5s",
         *FAST], env,
    )  # fmt: skip
    assert worker.exit_code == 1, worker.stderr  # two rows are declined by the emulator
    assert worker.stdout.strip().splitlines()[-1] == f"batch {batch}"
    assert all(emulator.created_count(f"C-{i}") == 1 for i in range(len(CARDS)))
    second = invoke(
        ["payouts", "worker", "--journal", url, "--batch", batch, "--quiet", *FAST], env
    )
    assert second.exit_code == 1
    assert all(emulator.created_count(f"C-{i}") == 1 for i in range(len(CARDS)))
    report = invoke(["payouts", "report", url, "--batch", batch, "--format", "json"])
    assert report.exit_code == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["batch_id"] == batch
    assert data["counts"] == {
        "pending": 0, "sending": 0, "process": 0, "unknown": 0, "success": 3, "error": 2,
    }  # fmt: skip
    watch = invoke(["payouts", "watch", url, "--batch", batch, "--once"])
    assert watch.exit_code == 0, watch.stderr
    assert "success" in watch.stdout
    assert "heartbeat age" in watch.stdout


def test_an_order_in_another_batch_is_refused_before_anything_is_sent(
    emulator: Emulator, url: str, tmp_path: Path
) -> None:
    env = env_for(emulator)
    first = write_batch(tmp_path / "a.csv", [OK_CARD] * 3)
    ran = invoke(["payouts", "run", str(first), "--journal", url, "--quiet", *FAST], env)
    assert ran.exit_code == 0, ran.stderr
    batch = ran.stdout.strip().splitlines()[-1].removeprefix("batch ")
    rerun = invoke(["payouts", "run", str(first), "--journal", url, "--quiet", *FAST], env)
    assert rerun.stdout.strip().splitlines()[-1] == f"batch {batch}"  # the same batch again
    assert all(emulator.created_count(f"C-{i}") == 1 for i in range(3))  # nothing paid again
    overlapping = write_batch(tmp_path / "b.csv", [OK_CARD] * 5)  # C-0..C-2 again, and more
    refused = invoke(["payouts", "submit", str(overlapping), "--journal", url], env)
    assert refused.exit_code == 2
    assert f"already in batch {batch}" in refused.stderr
    assert emulator.created_count("C-3") == 0
    also = invoke(["payouts", "run", str(overlapping), "--journal", url, *FAST], env)
    assert also.exit_code == 2
    assert emulator.created_count("C-4") == 0


def test_report_and_watch_need_a_batch_on_postgres(url: str) -> None:
    for command in (["payouts", "report", url], ["payouts", "watch", url, "--once"]):
        result = invoke(command)
        assert result.exit_code == 2
        assert "--batch" in result.stderr


def test_sigterm_stops_a_worker_claiming_and_lets_rows_in_flight_finish(
    emulator: Emulator, url: str, tmp_path: Path
) -> None:
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD] * 60)
    env = env_for(emulator)
    batch = invoke(["payouts", "submit", str(rows), "--journal", url], env).stdout.split()[-1]
    emulator.faults.add(Fault.latency(0.3, endpoint="g2g/p2p2nonreg"))
    worker = subprocess.Popen(  # noqa: S603 - our own console script
        [sys.executable, "-m", "freedompay_async.cli", "payouts", "worker", "--journal", url,
         "--batch", batch, "--quiet", "--concurrency", "4", *FAST],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not any(emulator.created_count(f"C-{i}") for i in range(60)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 130, err
    assert "Traceback" not in err
    report = json.loads(
        invoke(["payouts", "report", url, "--batch", batch, "--format", "json"]).stdout
    )
    counts = report["counts"]
    assert counts["sending"] == 0  # the rows in flight finished
    assert 0 < counts["success"] < 60  # and no new ones were claimed
    created = sum(emulator.created_count(f"C-{i}") for i in range(60))
    assert created == counts["success"]


def test_watch_a_sqlite_journal(emulator: Emulator, tmp_path: Path) -> None:
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD] * 3)
    journal = tmp_path / "j"
    ran = invoke(["payouts", "run", str(rows), "--journal", str(journal), "-q", *FAST],
                 env_for(emulator))  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    for extra in (["--once"], ["--interval", "0.1"]):  # a finished batch: the live view ends
        watch = invoke(["payouts", "watch", str(journal), *extra])
        assert watch.exit_code == 0, watch.stderr
        assert "success" in watch.stdout


def test_resume_a_postgres_batch_from_its_recorded_file(
    emulator: Emulator, url: str, tmp_path: Path
) -> None:
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD] * 3)
    env = env_for(emulator)
    batch = invoke(["payouts", "submit", str(rows), "--journal", url], env).stdout.split()[-1]
    missing = invoke(["payouts", "resume", url, *FAST], env)
    assert missing.exit_code == 2
    resumed = invoke(["payouts", "resume", url, "--batch", batch, "-q", *FAST], env)
    assert resumed.exit_code == 0, resumed.stderr
    assert all(emulator.created_count(f"C-{i}") == 1 for i in range(3))
