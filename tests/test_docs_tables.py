"""The reference tables in the guides name every option the code has, with its real default."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs

from freedompay_async import FreedomPayClient, PayoutPolicy, RetryPolicy

DOCS = Path(__file__).resolve().parent.parent / "docs"


def table_rows(page: str) -> dict[str, str]:
    """The first cell of each table row (its code spans' names) -> the row."""
    rows: dict[str, str] = {}
    for line in (DOCS / page).read_text("utf-8").splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            for name in re.findall(r"`([a-z_]+)`", first):
                rows[name] = line
    return rows


def test_the_configuration_page_names_every_client_argument() -> None:
    parameters = inspect.signature(FreedomPayClient).parameters
    keywords = {name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keywords - set(table_rows("configuration.md")) == set()


def test_the_configuration_page_states_the_retry_defaults() -> None:
    row = table_rows("configuration.md")["retry"]
    policy = RetryPolicy()
    assert f"{policy.attempts} attempts" in row
    assert f"{policy.initial_wait:g} s → {policy.max_wait:g} s" in row
    assert f"{policy.deadline:g} s deadline" in row


def test_the_payouts_page_states_every_policy_default() -> None:
    rows = table_rows("payouts.md")
    for field in attrs.fields(PayoutPolicy):
        assert f"| {field.default:.1f} |" in rows[field.name], field.name
