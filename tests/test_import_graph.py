"""The import graph is one-way: the client builds the facades; the facades only know the narrow
``Caller`` interface (``call``, ``call_page``, ``merchant_id``), never the client."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "freedompay_async"
FACADES = ["payouts.py", "payments.py", "cards.py", "tokens.py", "mobile.py"]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("facade", FACADES)
def test_a_facade_does_not_import_the_client(facade: str) -> None:
    modules = imported_modules(PACKAGE / facade)
    assert ".client" not in modules
    assert "freedompay_async.client" not in modules


def test_the_client_is_a_caller() -> None:
    from freedompay_async._caller import Caller
    from freedompay_async.client import FreedomPayClient

    client: Caller = FreedomPayClient("1", "key")  # mypy checks the protocol here
    assert client.merchant_id == "1"


EMULATOR = PACKAGE / "testing"
PAYMENT_FLOWS = sorted(
    path.name for path in EMULATOR.glob("_payment_*.py") if path.name != "_payment_core.py"
)


def test_every_payment_flow_is_found() -> None:
    assert PAYMENT_FLOWS == [
        "_payment_acs.py",
        "_payment_cards.py",
        "_payment_gateway.py",
        "_payment_mobile.py",
        "_payment_page.py",
        "_payment_status.py",
    ]


@pytest.mark.parametrize("flow", PAYMENT_FLOWS)
def test_a_payment_flow_imports_only_the_core(flow: str) -> None:
    """A flow knows the shared core, never another flow, the desk or the gateway."""
    modules = imported_modules(EMULATOR / flow)
    assert "._payment_core" in modules
    assert not modules & {f".{name[:-3]}" for name in PAYMENT_FLOWS}
    assert not modules & {"._payments", "._gateway", "._emulator"}


def test_the_payment_core_imports_no_flow() -> None:
    modules = imported_modules(EMULATOR / "_payment_core.py")
    assert not modules & {f".{name[:-3]}" for name in [*PAYMENT_FLOWS, "_payments.py"]}
