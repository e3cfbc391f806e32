"""``python -m freedompay_async.testing`` starts, answers signed requests and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from freedompay_async import FreedomPayClient, RetryPolicy
from freedompay_async.testing.__main__ import main

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


async def test_cli_serves_on_a_free_port_and_never_prints_keys() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "FREEDOMPAY_SECRET_KEY": "cli-payment-secret",
        "FREEDOMPAY_PAYOUT_SECRET_KEY": "cli-payout-secret",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "freedompay_async.testing",
        "--port",
        "0",
        "--merchant-id",
        "4242",
        "--balance",
        "77.50",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
        assert line.startswith("freedompay emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        async with FreedomPayClient(
            "4242",
            "cli-payment-secret",
            payout_secret_key="cli-payout-secret",
            base_url=url,
            retry=RetryPolicy(attempts=1),
        ) as client:
            balance = await client.request("g2g/balance_status", {})
        assert balance["pg_balance"] == "77.50"
    finally:
        process.terminate()
        out, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, err.decode()
    assert b"secret" not in out + err


def test_cli_requires_credentials(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FREEDOMPAY_SECRET_KEY", raising=False)
    assert main(["--merchant-id", "1"]) == 2
    assert "--secret-key" in capsys.readouterr().err
