"""The emulator's pytest plugin under every runner a user may have: pytest-asyncio in strict
and in auto mode, and anyio's plugin. Each case is a real pytest run in a subprocess
(``pytester``), with warnings as errors, exercising the emulator and the client over HTTP."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

BODY = """
    assert freedompay_emulator.url.startswith("http://127.0.0.1:")
    balance = await freedompay_client.payouts.balance()
    assert balance.amount > 0
    payout = await freedompay_client.payouts.to_card(
        order_id="plugin-1", amount="10.00", card_number="4405645000006150",
        description="plugin test", post_link="http://127.0.0.1:9/notify",
    )
    assert payout.order_id == "plugin-1"
    assert freedompay_emulator.created_count("plugin-1") == 1
"""

CASES = {
    "asyncio-strict": (
        "asyncio_mode = strict",
        "@pytest.mark.asyncio\nasync def test_pays(freedompay_emulator, freedompay_client):",
    ),
    "asyncio-auto": (
        "asyncio_mode = auto",
        "async def test_pays(freedompay_emulator, freedompay_client):",
    ),
    "anyio": (
        "asyncio_mode = strict",
        "@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n\n"
        "@pytest.mark.anyio\nasync def test_pays(freedompay_emulator, freedompay_client):",
    ),
}


def write_project(pytester: pytest.Pytester, mode: str, test: str, body: str = BODY) -> None:
    pytester.makeini(
        f"[pytest]\n{mode}\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    pytester.makepyfile(test_user=f"import pytest\n\n\n{test}{body}")


@pytest.mark.parametrize("case", list(CASES))
def test_the_fixtures_work_under_every_runner(pytester: pytest.Pytester, case: str) -> None:
    mode, test = CASES[case]
    write_project(pytester, mode, test)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_sync_test_is_told_what_to_mark(pytester: pytest.Pytester) -> None:
    write_project(
        pytester, "asyncio_mode = strict", "def test_sync(freedompay_emulator):", "\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pytest.mark.asyncio*pytest.mark.anyio*"])
