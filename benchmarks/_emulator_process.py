"""Run the standalone emulator in its own process for a benchmark."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def emulator_process(
    merchant_id: str, payment_key: str, payout_key: str, *, balance: str = "1000000000000"
) -> AsyncIterator[tuple[str, int]]:
    """Yield (base URL, pid) of ``python -m freedompay_async.testing`` on a free port."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "FREEDOMPAY_SECRET_KEY": payment_key,
        "FREEDOMPAY_PAYOUT_SECRET_KEY": payout_key,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "freedompay_async.testing", "--port", "0", "--merchant-id", merchant_id),
        *("--balance", balance),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        yield line.rsplit(" ", 1)[1].strip(), process.pid
    finally:
        process.terminate()
        await process.wait()
