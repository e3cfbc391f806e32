"""Every Python code block of README.md and docs/*.md runs as written, against the emulator.

A page's blocks run in order in one namespace, like a session of ``python -m asyncio`` (top-level
await allowed). Only the host and the keys are substituted: blocks that talk to "a gateway" use
the emulator's documented default host ``http://127.0.0.1:8080`` and the keys
``payment-secret-key`` / ``payout-secret-key``; here an emulator with those keys serves on a
free port. A block that does not run fails the suite, so a doc cannot lie for long.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freedompay_async.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HOST = "http://127.0.0.1:8080"
MERCHANT = "552893"
PAYMENT_KEY, PAYOUT_KEY = "payment-secret-key", "payout-secret-key"


def blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text("utf-8"), re.DOTALL | re.MULTILINE)


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    """An emulator on its own event loop in a thread, as a remote gateway would be."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        async with Emulator(
            merchant_id=MERCHANT,
            secret_key=PAYMENT_KEY,
            payout_secret_key=PAYOUT_KEY,
            notify_retry_delays=(),
        ) as emulator:
            box.update(url=emulator.url, loop=asyncio.get_running_loop(), stop=stop)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield str(box["url"])
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(10)


def run_page(page: Path, url: str, tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    loop = asyncio.new_event_loop()
    try:
        for number, block in enumerate(blocks(page), 1):
            code = compile(
                block.replace(HOST, url),
                f"{page.name} block {number}",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            )
            if code.co_flags & inspect.CO_COROUTINE:
                loop.run_until_complete(types.FunctionType(code, namespace)())
            else:
                exec(code, namespace)  # noqa: S102 - our own documentation
    finally:
        loop.close()


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_every_python_block_runs(
    page: Path,
    gateway: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # files a block writes (journals) stay in the test's folder
    (tmp_path / "payouts.csv").write_text((ROOT / "examples" / "payouts.csv").read_text())
    monkeypatch.setenv("FREEDOMPAY_SECRET_KEY", PAYMENT_KEY)
    monkeypatch.setenv("FREEDOMPAY_PAYOUT_SECRET_KEY", PAYOUT_KEY)
    run_page(page, gateway, tmp_path)
