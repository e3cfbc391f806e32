"""Developer sessions: ``nox`` runs tests, lint and typecheck; ``nox -s bench`` the benchmarks;
``nox -s demo`` the README's first Quickstart command (a payout batch against the emulator)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON_FILES = ["freedompay_async", "tests", "benchmarks", "examples", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (unit, property and loopback tests against the emulator, the CLI)."""
    session.install("-e", ".[test,cli]")
    session.run("pytest", *session.posargs)


#: The oldest and newest supported Pythons (pyenv's on the CI machine; see .ci/run).
MATRIX_PYTHONS = ["3.10", "3.13"]


@nox.session(name="tests_matrix", python=MATRIX_PYTHONS)
def tests_matrix(session: nox.Session) -> None:
    """The suite on the oldest and newest supported Pythons (``tests`` runs the current one)."""
    session.install("-e", ".[test,cli]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (mkdocs, material, mkdocstrings), built strictly into site/."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", *PYTHON_FILES)
    session.run("ruff", "format", "--check", *PYTHON_FILES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, tests and benchmarks."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict")


#: What the demo batch's exit status means (the command's documented exit statuses).
DEMO_EXIT_MEANINGS = {
    0: "every row succeeded",
    1: "the batch ran; the rows the emulator's test cards decline ended in error, as the demo "
    "intends (see the summary above)",
    2: "nothing was sent: bad rows, usage or credentials",
    130: "interrupted: resume the journal",
}


@nox.session
def demo(session: nox.Session) -> None:
    """README Quickstart 1: the 1,000-row demo batch against the embedded emulator.

    Some rows are declined on purpose, so the batch itself exits 1; the session logs that
    status and what it means, and succeeds when the batch ran (0 or 1).
    """
    session.install("-e", ".[cli]")
    journal = Path(session.create_tmp()) / "demo-payouts.journal"
    for suffix in ("", "-wal", "-shm"):  # a fresh batch every time
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    command = [
        str(Path(session.bin) / "freedompay"),
        *("payouts", "run", "examples/payouts.csv", "--emulator", "--journal", str(journal)),
        *session.posargs,
    ]
    session.log("freedompay " + " ".join(command[1:]))
    status = subprocess.run(command, check=False).returncode  # noqa: S603 - our own command
    meaning = DEMO_EXIT_MEANINGS.get(status, "unexpected")
    session.log(f"the batch exited with status {status}: {meaning}")
    session.log(f"journal: {journal} (try: freedompay payouts report {journal} --format csv)")
    if status not in (0, 1):
        session.error(f"the demo batch failed (exit status {status})")


@nox.session
def bench(session: nox.Session) -> None:
    """Full benchmarks: bench_client.py prints the README's Performance table (a few minutes)."""
    session.install("-e", ".[bench,cli]")
    session.run("python", "benchmarks/bench_client.py", *session.posargs)
    if shutil.which("valgrind"):
        session.run("python", "benchmarks/bench_instructions.py")
    else:
        session.log("valgrind is not installed: instruction counts skipped")
    session.run("python", "benchmarks/bench_core.py")
    session.run("python", "benchmarks/bench_emulator.py")
    session.run("python", "benchmarks/bench_payouts.py", "--in-flight", "10000")
    session.run("python", "benchmarks/bench_batch.py", "--rows", "10000", "--concurrency", "200")
    session.run("python", "benchmarks/bench_batch_workers.py", "--rows", "4000")
    session.run("python", "benchmarks/bench_telemetry.py")


@nox.session(name="bench_smoke")
def bench_smoke(session: nox.Session) -> None:
    """A few seconds of every benchmark, so CI notices when one breaks."""
    session.install("-e", ".[bench,cli]")
    session.run("python", "benchmarks/bench_client.py", "--smoke")
    session.run("python", "benchmarks/bench_core.py", "--calls", "300", "--rounds", "1")
    session.run("python", "benchmarks/bench_emulator.py", "--seconds", "1")
    session.run("python", "benchmarks/bench_payouts.py", "--payouts", "200", "--concurrency", "20")
    session.run("python", "benchmarks/bench_batch.py", "--rows", "300", "--rounds", "1")
    session.run(
        "python", "benchmarks/bench_batch_workers.py", *("--rows", "200", "--workers", "1", "2")
    )
    session.run("python", "benchmarks/chaos_payouts.py", "--payouts", "300", "--outages", "1")
    session.run("python", "benchmarks/bench_telemetry.py", "--calls", "300", "--rounds", "1")


@nox.session
def chaos(session: nox.Session) -> None:
    """10,000 payouts through every fault kind, outages and status lag at once; exits 1 on any
    duplicate, created-but-reported-not-sent or -refused payout, or untyped error."""
    session.install("-e", ".")
    session.run("python", "benchmarks/chaos_payouts.py", *session.posargs)
