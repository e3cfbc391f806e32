from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pg_cluster
import pytest

# Installed, the package registers this plugin itself; declared here so the suite also runs
# from a source tree that was not installed.
pytest_plugins = ["freedompay_async.testing.pytest_plugin"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's DSN: ``FREEDOMPAY_TEST_POSTGRES_DSN``, or a throwaway cluster when
    the binaries are installed. Missing: the test skips, or fails under ``CI=true``."""
    reason = pg_cluster.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with pg_cluster.postgres_dsn() as dsn:
        yield dsn


@pytest.fixture
async def postgres_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty database on the test server (dropped afterwards)."""
    import asyncpg

    name = f"fp_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
