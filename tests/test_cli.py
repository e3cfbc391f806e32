"""The ``freedompay`` command end to end (click's CliRunner) against an emulator with faults.

The emulator runs on its own event loop in a thread, as a remote gateway would, so the command
runs exactly as from a shell (``anyio.run`` in the calling thread) and the test can still look
inside the emulator: what was created, how often, and which calls arrived.
"""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freedompay_async.batch import Journal, RowState
from freedompay_async.cli import cli
from freedompay_async.signing import sign
from freedompay_async.testing import Emulator, Fault, Rule

ROOT = Path(__file__).resolve().parent.parent
MERCHANT = "552893"
PAYMENT_KEY = "cli-test-payment-secret"
PAYOUT_KEY = "cli-test-payout-secret"
SECRETS = (PAYMENT_KEY, PAYOUT_KEY)
OK_CARD = "4405645000006150"
CARDS = [OK_CARD, "5325349472901311", "5507841999732294", "4532676596620704", OK_CARD]
POST_LINK = "http://127.0.0.1:9/notify"
FAST = [
    "--poll-initial", "0.01", "--poll-max", "0.05", "--reconcile-deadline", "0.5",
    "--not-found-grace", "2", "--timeout", "2",
]  # fmt: skip
TRUTH = {"success": "success", "error": "error", "process": "process"}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator served from another thread's event loop."""
    ready = threading.Event()
    box: dict[str, object] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        async with Emulator(
            merchant_id=MERCHANT,
            secret_key=PAYMENT_KEY,
            payout_secret_key=PAYOUT_KEY,
            notify_retry_delays=(),
        ) as emu:
            box.update(emu=emu, loop=asyncio.get_running_loop(), stop=stop)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    emu = box["emu"]
    assert isinstance(emu, Emulator)
    yield emu
    loop = box["loop"]
    stop = box["stop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    assert isinstance(stop, asyncio.Event)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def env_for(emulator: Emulator) -> dict[str, str]:
    return {
        "FREEDOMPAY_MERCHANT_ID": MERCHANT,
        "FREEDOMPAY_SECRET_KEY": PAYMENT_KEY,
        "FREEDOMPAY_PAYOUT_SECRET_KEY": PAYOUT_KEY,
        "FREEDOMPAY_BASE_URL": emulator.url,
        "FREEDOMPAY_POST_LINK": POST_LINK,
    }


def invoke(args: list[str], env: Mapping[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, args, env=dict(env or {}), catch_exceptions=False)
    for secret in SECRETS:  # a secret never shows up, whatever the command did
        assert secret not in result.output
        assert secret not in result.stderr
    return result


def write_batch(path: Path, cards: list[str], prefix: str = "C") -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "amount", "description", "card_number"])
        for index, card in enumerate(cards):
            writer.writerow([f"{prefix}-{index}", "25.00", "cli test", card])
    return path


def test_run_report_and_exit_status(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/p2p2nonreg", order_id="C-4"))
    rows = write_batch(tmp_path / "batch.csv", CARDS * 4)
    journal = tmp_path / "batch.journal"
    result = invoke(
        ["payouts", "run", str(rows), "--journal", str(journal), "--concurrency", "5", *FAST],
        env_for(emulator),
    )
    assert result.exit_code == 1, result.output + result.stderr  # declined rows
    assert "Payout batch: 20 rows" in result.output
    assert "532534******1311" in result.output  # masked, in the rows needing attention
    for card in CARDS:
        assert card not in result.output
    report = Journal.read_report(journal)
    for row in report.rows:
        assert emulator.created_count(row.order_id) == 1
        assert TRUTH[emulator.payouts[row.order_id].status] == row.state.value
    assert report.counts[RowState.SUCCESS] == 12
    assert report.counts[RowState.ERROR] == 8

    as_csv = invoke(["payouts", "report", str(journal), "--format", "csv"])
    assert as_csv.exit_code == 0
    lines = list(csv.DictReader(as_csv.output.splitlines()))
    assert len(lines) == 20
    assert {line["state"] for line in lines} == {"success", "error"}
    assert lines[1]["error_code"] == "10000"
    assert all(card not in as_csv.output for card in CARDS)

    as_json = invoke(["payouts", "report", str(journal), "--format", "json"])
    data = json.loads(as_json.output)
    assert data["counts"]["success"] == 12
    assert data["merchant_id"] == MERCHANT
    assert data["rows"][0]["destination"] == "card 440564******6150"

    table = invoke(["payouts", "report", str(journal)])
    assert "Rows needing attention: 8" in table.output

    again = invoke(["payouts", "run", str(rows), "--journal", str(journal)], env_for(emulator))
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_all_success_exits_zero_and_quiet_prints_one_line(
    emulator: Emulator, tmp_path: Path
) -> None:
    rows = write_batch(tmp_path / "ok.csv", [OK_CARD] * 5)
    result = invoke(["payouts", "run", str(rows), "-q", *FAST], env_for(emulator))
    assert result.exit_code == 0, result.stderr
    assert result.output.strip() == "5 rows: 5 success"
    assert (tmp_path / "ok.csv.journal").exists()  # the default journal path


def test_bad_rows_are_reported_before_anything_is_sent(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "order_id,amount,description,card_number\n"
        f"B-1,10.00,ok,{OK_CARD}\n"
        f"B-2,10.001,too precise,{OK_CARD}\n"
        "B-3,10.00,bad card,4405645000006151\n"
        f"B-1,10.00,duplicate,{OK_CARD}\n"
    )
    result = invoke(["payouts", "run", str(path)], env_for(emulator))
    assert result.exit_code == 2
    assert "3 bad rows" in result.stderr
    for fragment in ("line 3: amount", "line 4: card_number", "line 5: order_id", "(line 2)"):
        assert fragment in result.stderr
    assert "4405645000006151" not in result.stderr
    assert not emulator.calls  # not even the balance check
    assert not (tmp_path / "bad.csv.journal").exists()


def test_resume_after_an_unknown_outcome(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.add(Fault.drop_after_commit(endpoint="g2g/p2p2nonreg", order_id="C-1"))
    for path in ("g2g/payout_status2", "g2g/payout_status"):
        emulator.faults.add(Fault.http_error(502, endpoint=path, order_id="C-1"))
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD] * 3)
    journal = tmp_path / "j"
    first = invoke(
        ["payouts", "run", str(rows), "--journal", str(journal), "--no-status-preflight", *FAST],
        env_for(emulator),
    )
    assert first.exit_code == 1
    assert "resume with: freedompay payouts resume" in first.stderr
    assert Journal.read_report(journal).rows[1].state is RowState.UNKNOWN
    emulator.faults.clear()
    resumed = invoke(["payouts", "resume", str(journal), *FAST], env_for(emulator))
    assert resumed.exit_code == 0, resumed.stderr
    assert Journal.read_report(journal).all_succeeded
    assert all(emulator.created_count(f"C-{i}") == 1 for i in range(3))


def test_resume_refuses_another_merchant_or_a_changed_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD] * 3)
    journal = tmp_path / "j"
    assert invoke(
        ["payouts", "run", str(rows), "--journal", str(journal), "--no-wait", *FAST],
        env_for(emulator),
    ).exit_code in (0, 1)
    calls = dict(emulator.calls)
    other = {**env_for(emulator), "FREEDOMPAY_MERCHANT_ID": "777"}
    refused = invoke(["payouts", "resume", str(journal)], other)
    assert refused.exit_code == 2
    assert "merchant 552893" in refused.stderr
    assert "resume with" not in refused.stderr  # resuming again would meet the same refusal
    changed = write_batch(tmp_path / "changed.csv", [OK_CARD] * 4)
    refused = invoke(["payouts", "resume", str(journal), "--file", str(changed)], env_for(emulator))
    assert refused.exit_code == 2
    assert "C-3" in refused.stderr
    assert dict(emulator.calls) == calls  # nothing was sent


def test_missing_credentials_are_a_usage_error(tmp_path: Path) -> None:
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD])
    result = invoke(["payouts", "run", str(rows)], {"FREEDOMPAY_MERCHANT_ID": MERCHANT})
    assert result.exit_code == 2
    assert "missing secret key" in result.stderr
    assert not (tmp_path / "batch.csv.journal").exists()
    no_link = invoke(
        ["payouts", "run", str(rows)],
        {"FREEDOMPAY_MERCHANT_ID": MERCHANT, "FREEDOMPAY_SECRET_KEY": PAYMENT_KEY},
    )
    assert no_link.exit_code == 2
    assert "--post-link" in no_link.stderr


def test_a_wrong_key_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD] * 2)
    env = {**env_for(emulator), "FREEDOMPAY_PAYOUT_SECRET_KEY": "a-wrong-key"}
    result = CliRunner().invoke(cli, ["payouts", "run", str(rows), *FAST], env=env)
    assert result.exit_code == 2
    assert "payout secret key" in result.stderr
    assert "a-wrong-key" not in result.output + result.stderr
    assert not emulator.payouts
    # Only a hint that works: no journal is left behind, the same `run` with the right key
    # pays (a "resume with" would point at a journal that `run` then refuses to overwrite).
    assert "resume with" not in result.stderr
    assert "run the same command again" in result.stderr
    assert not (tmp_path / "batch.csv.journal").exists()
    again = invoke(["payouts", "run", str(rows), *FAST], env_for(emulator))
    assert again.exit_code == 0, again.stderr


def test_status_and_balance(emulator: Emulator, tmp_path: Path) -> None:
    emulator.rules.add(Rule.error(10000, order_id="C-0"))
    rows = write_batch(tmp_path / "batch.csv", [OK_CARD, OK_CARD])
    invoke(["payouts", "run", str(rows), *FAST], env_for(emulator))
    status = invoke(["payouts", "status", "C-1"], env_for(emulator))
    assert status.exit_code == 0
    assert "success" in status.output
    declined = invoke(["payouts", "status", "C-0"], env_for(emulator))
    assert "error" in declined.output
    missing = invoke(["payouts", "status", "nope"], env_for(emulator))
    assert missing.exit_code == 1
    assert "does not know order nope" in missing.stderr
    balance = invoke(["balance"], env_for(emulator))
    assert balance.exit_code == 0
    assert balance.output.strip() == "999,975.00 KZT"


def test_sign_masks_the_secret_and_checks_a_given_signature() -> None:
    params = {
        "pg_order_id": "A-1",
        "pg_amount": "1500.00",
        "pg_payment_to": OK_CARD,
        "pg_merchant_id": MERCHANT,
        "pg_salt": "abc",
    }
    expected = sign("p2p2nonreg", params, PAYOUT_KEY)
    args = ["sign", "g2g/p2p2nonreg", *(f"{k}={v}" for k, v in params.items())]
    env = {"FREEDOMPAY_SECRET_KEY": PAYMENT_KEY, "FREEDOMPAY_PAYOUT_SECRET_KEY": PAYOUT_KEY}
    result = invoke([*args, f"pg_sig={expected}"], env)
    assert result.exit_code == 0
    assert "p2p2nonreg;1500.00;552893;A-1;440564******6150;abc;***" in result.output
    assert f"pg_sig          {expected}" in result.output
    assert "given pg_sig    matches" in result.output
    assert OK_CARD not in result.output
    wrong = invoke([*args, "--key", "payment", f"pg_sig={expected}"], env)
    assert "DOES NOT MATCH" in wrong.output
    nested = invoke(
        ["sign", "init_payment.php", "pg_receipt_positions[0][name]=Tea", "pg_amount=5"], env
    )
    expected_nested = sign(
        "init_payment.php",
        {"pg_receipt_positions": [{"name": "Tea"}], "pg_amount": "5"},
        PAYMENT_KEY,
    )
    assert expected_nested in nested.output
    missing = invoke(["sign", "p2p2nonreg", "pg_amount=1"])
    assert missing.exit_code == 2
    assert "missing payout secret key" in missing.stderr


def test_emulator_command_reuses_the_emulator_cli() -> None:
    result = invoke(["emulator", "--help"])
    assert result.exit_code == 0
    assert "--merchant-id" in result.output
    assert invoke(["emulator", "--port", "0"]).exit_code == 2  # no merchant id, no keys


def test_help_documents_exit_codes_and_env_vars() -> None:
    result = invoke(["payouts", "run", "--help"])
    assert "FREEDOMPAY_SECRET_KEY" in result.output
    assert "130" in result.output
    assert "resume" in invoke(["payouts", "--help"]).output


def test_the_demo_batch_against_the_embedded_emulator(tmp_path: Path) -> None:
    """README Quickstart command 1, minus the install: examples/payouts.csv, --emulator."""
    journal = tmp_path / "demo.journal"
    result = invoke(
        [
            "payouts",
            "run",
            str(ROOT / "examples" / "payouts.csv"),
            "--emulator",
            "--journal",
            str(journal),
            "--emulator-latency",
            "0",
            "--concurrency",
            "50",
            "--poll-initial",
            "0.02",
            "--poll-max",
            "0.1",
        ]
    )
    assert result.exit_code == 1, result.stderr  # the declined rows
    report = Journal.read_report(journal)
    counts = report.counts
    assert len(report.rows) == 1000
    assert counts[RowState.ERROR] > 0
    assert counts[RowState.SUCCESS] + counts[RowState.ERROR] == 1000
    assert report.gateway == "embedded emulator"
