"""The installed ``freedompay`` console script, run as a user runs it: in a subprocess.

Every test asserts the exit status and that no traceback reached the user.
"""

from __future__ import annotations

import contextlib
import csv
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import click
import pytest

from freedompay_async.batch import Journal, JournalError, RowState
from freedompay_async.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = shutil.which("freedompay", path=str(Path(sys.executable).parent))


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment without FreedomPay settings (so none leak in), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREEDOMPAY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def run(
    command: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and console script
        list(command),
        capture_output=True,
        text=True,
        env=environment(env),
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def freedompay(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None, "the package is not installed: no freedompay console script"
    return run([SCRIPT, *args], env)


def test_help_lists_every_command_without_loading_the_library() -> None:
    result = freedompay("--help")
    assert result.returncode == 0
    for command in ("payouts", "balance", "emulator", "sign"):
        assert command in result.stdout
    probe = run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom freedompay_async.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('aiohttp', 'rich') if m in sys.modules))",
        ]
    )
    assert probe.stdout.strip().endswith("[]")  # --help pays for click only


@pytest.mark.parametrize("missing", ["click", "rich"])
def test_without_the_cli_extra_the_command_says_what_to_install(missing: str) -> None:
    # sys.modules[name] = None makes ``import name`` fail as in an environment without it.
    code = (
        f"import sys\nsys.modules[{missing!r}] = None\n"
        "from freedompay_async.cli import main\nmain(['payouts', '--help'])"
    )
    result = run([sys.executable, "-c", code])
    assert result.returncode == 2
    assert f"{missing} is not installed" in result.stderr
    assert "python -m pip install click rich" in result.stderr


# -- the batch commands ----------------------------------------------------------------------

MERCHANT = "552893"
PAYMENT_KEY = "emulator-payment-key"  # the plugin's default emulated account
PAYOUT_KEY = "emulator-payout-key"
OK_CARD = "4405645000006150"
DECLINED_CARD = "5325349472901311"  # a test card the emulator declines
FAST = ["--poll-initial", "0.01", "--poll-max", "0.05", "--timeout", "5"]


def gateway_env(emulator: Emulator) -> dict[str, str]:
    return {
        "FREEDOMPAY_MERCHANT_ID": MERCHANT,
        "FREEDOMPAY_SECRET_KEY": PAYMENT_KEY,
        "FREEDOMPAY_PAYOUT_SECRET_KEY": PAYOUT_KEY,
        "FREEDOMPAY_BASE_URL": emulator.url,
        "FREEDOMPAY_POST_LINK": "http://127.0.0.1:9/notify",
    }


async def freedompay_async_run(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``freedompay ARGS`` while this event loop keeps serving the test's emulator."""
    assert SCRIPT is not None
    result = await anyio.run_process([SCRIPT, *args], env=environment(env), check=False)
    done = subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    for secret in (PAYMENT_KEY, PAYOUT_KEY):
        assert secret not in done.stdout + done.stderr
    return done


def write_rows(path: Path, cards: Sequence[str], *, prefix: str = "P", width: int = 0) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "amount", "description", "card_number"])
        for index, card in enumerate(cards):
            writer.writerow([f"{prefix}-{index:04d}".ljust(width, "x"), "10.00", "salary", card])
    return path


def wait_for_rows_in_flight(journal: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before it could be interrupted"
        with contextlib.suppress(JournalError):
            counts = Journal.read_report(journal).counts
            if counts[RowState.SENDING] or counts[RowState.SUCCESS]:
                return
        time.sleep(0.01)
    raise AssertionError("the batch never started")


@pytest.mark.parametrize("when", ["during the batch", "at start-up"])
def test_two_ctrl_c_within_50ms_abort_with_summary_and_resume_hint(
    tmp_path: Path, when: str
) -> None:
    assert SCRIPT is not None
    journal = tmp_path / "demo.journal"
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [SCRIPT, "payouts", "run", str(ROOT / "examples" / "payouts.csv")]  # noqa: RUF005
        + ["--emulator", "--emulator-latency", "0.2", "--journal", str(journal)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    if when == "during the batch":
        wait_for_rows_in_flight(journal, process)
    else:
        time.sleep(0.3)  # importing, reading the rows, starting the embedded emulator
    process.send_signal(signal.SIGINT)
    time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert "Aborted!" not in err
    if journal.exists() and Journal.read_report(journal).rows:
        assert "Payout batch: 1,000 rows" in out
        assert "resume with: freedompay payouts resume" in err
    else:  # interrupted before the batch was recorded: nothing to resume, nothing left behind
        assert "nothing was sent" in err or "interrupted" in err
        assert "resume with" not in err


@pytest.mark.anyio
async def test_a_failed_preflight_gives_only_the_hint_that_works(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    rows = write_rows(tmp_path / "rows.csv", [OK_CARD] * 3)
    wrong = {**gateway_env(freedompay_emulator), "FREEDOMPAY_PAYOUT_SECRET_KEY": "wrong-key"}
    refused = await freedompay_async_run("payouts", "run", str(rows), *FAST, env=wrong)
    assert refused.returncode == 2
    assert "resume with" not in refused.stderr
    assert "run the same command again" in refused.stderr
    assert not (tmp_path / "rows.csv.journal").exists()
    paid = await freedompay_async_run(
        "payouts", "run", str(rows), *FAST, env=gateway_env(freedompay_emulator)
    )
    assert paid.returncode == 0, paid.stderr
    other = {**gateway_env(freedompay_emulator), "FREEDOMPAY_MERCHANT_ID": "777"}
    mismatch = await freedompay_async_run(
        "payouts", "resume", str(tmp_path / "rows.csv.journal"), env=other
    )
    assert mismatch.returncode == 2
    assert "merchant 552893" in mismatch.stderr
    assert "resume with" not in mismatch.stderr  # a resume would meet the same refusal


@pytest.mark.anyio
async def test_report_table_shows_every_row_and_piped_output_is_not_cut(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    cards = [OK_CARD, DECLINED_CARD] * 40
    rows = write_rows(tmp_path / "rows.csv", cards, prefix="order-with-a-long-id", width=48)
    run = await freedompay_async_run(
        "payouts", "run", str(rows), *FAST, env=gateway_env(freedompay_emulator)
    )
    assert run.returncode == 1  # the declined rows
    assert "Payout batch: 80 rows" in run.stdout
    assert "Rows needing attention: 40 (the first 10 shown)" in run.stdout
    assert "every row: freedompay payouts report" in run.stdout
    report = await freedompay_async_run("payouts", "report", str(tmp_path / "rows.csv.journal"))
    assert report.returncode == 0
    for index in range(80):  # every row, its long order id whole although piped
        assert f"order-with-a-long-id-{index:04d}".ljust(48, "x") in report.stdout
    assert max(len(line) for line in report.stdout.splitlines()) > 100  # wider than 80


@pytest.mark.anyio
async def test_plurals_and_no_line_zero(freedompay_emulator: Emulator, tmp_path: Path) -> None:
    env = gateway_env(freedompay_emulator)
    one = await freedompay_async_run(
        "payouts", "run", str(write_rows(tmp_path / "one.csv", [OK_CARD])), "-q", *FAST, env=env
    )
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() == "1 row: 1 success"
    empty = tmp_path / "empty.csv"
    empty.write_text("order_id,amount,description,card_number\n")
    nothing = await freedompay_async_run("payouts", "run", str(empty), env=env)
    assert nothing.returncode == 2
    assert "no payout rows" in nothing.stderr
    assert "line 0" not in nothing.stderr
    assert "bad row" not in nothing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(f"order_id,amount,description,card_number\nB-1,1.001,x,{OK_CARD}\n")
    one_bad = await freedompay_async_run("payouts", "run", str(bad), env=env)
    assert one_bad.returncode == 2
    assert "1 bad row in" in one_bad.stderr


def test_the_progress_bar_has_a_legend_and_its_clock_agrees_with_the_summary(
    tmp_path: Path,
) -> None:
    """On a terminal (a pty here) the bar explains its marks and ends on the summary's time."""
    assert SCRIPT is not None
    rows = write_rows(tmp_path / "rows.csv", [OK_CARD, DECLINED_CARD] * 100)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [SCRIPT, "payouts", "run", str(rows), "--emulator", "--emulator-latency", "0.02"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            env=environment({"TERM": "xterm", "COLUMNS": "200"}),
        )
        os.close(terminal)
        screen = b""
        with contextlib.suppress(OSError):  # EIO once the child closed the terminal
            while chunk := os.read(controller, 65536):
                screen += chunk
        out, _ = process.communicate(timeout=60)
    finally:
        os.close(controller)
    shown = screen.decode(errors="replace")
    assert process.returncode == 1, out + shown
    assert "Traceback" not in out + shown
    for meaning in ("✓ success", "✗ error", "… process", "? unknown"):
        assert meaning in shown
    bar_clock = float(re.findall(r"(\d+\.\d) s", shown)[-1])
    summary_clock = float(re.search(r" · (\d+\.\d) s", out).group(1))  # type: ignore[union-attr]
    assert abs(bar_clock - summary_clock) <= 0.3, (bar_clock, summary_clock)


# -- balance, status, sign, emulator ------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_gateway_exits_2_naming_host_port_and_reason() -> None:
    port = closed_port()
    env = {"FREEDOMPAY_MERCHANT_ID": MERCHANT, "FREEDOMPAY_SECRET_KEY": PAYMENT_KEY}
    for command in (["balance"], ["payouts", "status", "A-1"]):
        result = freedompay(*command, "--base-url", f"http://127.0.0.1:{port}", env=env)
        assert result.returncode == 2, result.stderr
        assert f"127.0.0.1:{port}" in result.stderr
        assert "connection refused" in result.stderr
        assert "nothing was sent" in result.stderr


def test_sign_exits_1_when_the_given_signature_does_not_match() -> None:
    params = [f"pg_merchant_id={MERCHANT}", "pg_order_id=A-1", "pg_salt=abc"]
    env = {"FREEDOMPAY_PAYOUT_SECRET_KEY": PAYOUT_KEY}
    computed = freedompay("sign", "g2g/payout_status2", *params, env=env)
    assert computed.returncode == 0
    signature = computed.stdout.split("pg_sig", 1)[1].split()[0]
    good = freedompay("sign", "g2g/payout_status2", *params, f"pg_sig={signature}", env=env)
    assert good.returncode == 0
    assert "matches" in good.stdout
    bad = freedompay("sign", "g2g/payout_status2", *params, "pg_sig=0" * 1, env=env)
    assert bad.returncode == 1
    assert "DOES NOT MATCH" in bad.stdout


def test_sign_without_a_script_name_is_a_usage_error() -> None:
    result = freedompay(
        "sign", "pg_order_id=A-1", "pg_salt=abc", env={"FREEDOMPAY_SECRET_KEY": "k"}
    )
    assert result.returncode == 2
    assert "SCRIPT is missing" in result.stderr


def test_every_emulator_option_has_help_and_a_default() -> None:
    from freedompay_async.cli._emulator import emulator_command

    for script in (["freedompay", "emulator"], ["freedompay-emulator"]):
        path = shutil.which(script[0], path=str(Path(sys.executable).parent))
        assert path is not None
        result = run([path, *script[1:], "--help"])
        assert result.returncode == 0
        assert result.stdout.startswith("Usage: ")  # click's style, not argparse's "usage:"
    for option in emulator_command.params:
        assert isinstance(option, click.Option)
        if option.name == "help":
            continue
        assert option.help, option.name
        assert option.show_default or "[default:" in option.help or "[required]" in option.help
        assert f"--{(option.name or '').replace('_', '-')}" in result.stdout


def test_the_emulator_explains_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = {"FREEDOMPAY_SECRET_KEY": PAYMENT_KEY}
        result = freedompay("emulator", "--merchant-id", MERCHANT, "--port", port, env=env)
    assert result.returncode == 2
    assert "address already in use" in result.stderr
    missing = freedompay("emulator", "--port", "0")
    assert missing.returncode == 2
    assert "--secret-key" in missing.stderr


@pytest.mark.anyio
async def test_options_that_cannot_apply_are_usage_errors_not_ignored(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    rows = write_rows(tmp_path / "rows.csv", [OK_CARD])
    env = gateway_env(freedompay_emulator)
    done = await freedompay_async_run("payouts", "run", str(rows), "-q", *FAST, env=env)
    assert done.returncode == 0, done.stderr
    journal = str(tmp_path / "rows.csv.journal")
    for command in (
        ["payouts", "report", journal, "--batch", "b-1"],
        ["payouts", "watch", journal, "--batch", "b-1", "--once"],
        ["payouts", "resume", journal, "--batch", "b-1", *FAST],
    ):
        result = await freedompay_async_run(*command, env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert "--batch names a batch in a PostgreSQL journal" in result.stderr
        assert "rows.csv.journal is a SQLite journal" in result.stderr
    unwritable = await freedompay_async_run(
        "payouts", "report", journal, "-o", str(tmp_path / "no-such-folder" / "report.csv")
    )
    assert unwritable.returncode == 2
    assert "cannot write" in unwritable.stderr
    assert "No such file or directory" in unwritable.stderr
    written = await freedompay_async_run(
        "payouts", "report", journal, "--format", "csv", "-o", str(tmp_path / "report.csv")
    )
    assert written.returncode == 0
    assert (tmp_path / "report.csv").read_text().count("\n") == 2  # the header and the row


def test_a_bad_lease_is_refused_before_the_journal_is_reached() -> None:
    result = freedompay(
        *("payouts", "worker", "--batch", "b-1", "--lease", "soon", "--emulator"),
        *("--journal", f"postgresql://nobody@127.0.0.1:{closed_port()}/payouts"),
    )
    assert result.returncode == 2
    assert "Invalid value for '--lease'" in result.stderr
    assert "'soon' is not a duration" in result.stderr
    assert "PostgreSQL journal" not in result.stderr  # refused before connecting
