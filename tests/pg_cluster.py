"""A throwaway PostgreSQL cluster for tests and benchmarks (the distribution's binaries).

``FREEDOMPAY_TEST_POSTGRES_DSN`` wins when set (CI exports it). Otherwise, when ``initdb`` is
found under ``/usr/lib/postgresql/*/bin`` (or on ``PATH``), a private cluster is started on a
free loopback port with trust authentication (as the ``postgres`` user when run as root) and
removed afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

DSN_VARIABLE = "FREEDOMPAY_TEST_POSTGRES_DSN"


def _binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def unavailable_reason() -> str | None:
    """Why no PostgreSQL can be had here (``None``: one can)."""
    if os.environ.get(DSN_VARIABLE) or _binaries() is not None:
        return None
    return f"no PostgreSQL: set {DSN_VARIABLE} or install the server (apt-get install postgresql)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def postgres_dsn() -> Iterator[str]:
    """The DSN of a database to test against (a fresh throwaway cluster if none is given)."""
    given = os.environ.get(DSN_VARIABLE)
    if given:
        yield given
        return
    bin_dir = _binaries()
    if bin_dir is None:
        raise RuntimeError(unavailable_reason())
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="freedompay-pg-"))
    data = root / "data"
    port = _free_port()
    if as_postgres:
        shutil.chown(root, "postgres")
    run = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    try:
        subprocess.run(  # noqa: S603
            [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
             "-U", "postgres", "--no-sync"],
            **run,  # type: ignore[call-overload]
        )  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(  # noqa: S603
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
             "-l", str(root / "log"), "-w", "start"],
            **run,  # type: ignore[call-overload]
        )  # fmt: skip
        time.sleep(0.1)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(  # noqa: S603
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(root, ignore_errors=True)
