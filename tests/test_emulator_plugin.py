"""The pytest plugin, loaded the way users load it (``-p``), in a separate pytest run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

USER_TESTS = """
import pytest
from decimal import Decimal
from freedompay_async.testing import EmulatorSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def freedompay_emulator_settings():
    return EmulatorSettings("31337", "pay-key", "out-key", balance=Decimal("12.34"))


async def test_fixtures_work_together(freedompay_emulator, freedompay_client):
    answer = await freedompay_client.request("g2g/balance_status", {})
    assert answer["pg_balance"] == "12.34"
    assert freedompay_emulator.calls == {"g2g/balance_status": 1}
    assert freedompay_client.merchant_id == "31337"
"""


def test_plugin_fixtures_in_a_user_test_suite(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    env = {
        **os.environ,
        # Only the plugins named below, even once an entry point registers ours automatically.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "anyio",
            "-p",
            "freedompay_async.testing.pytest_plugin",
            "-W",
            "error",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
