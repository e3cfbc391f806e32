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


def flow_imports(flow: str) -> set[str]:
    """The payment flow modules ``flow`` imports."""
    return imported_modules(EMULATOR / flow) & {f".{name[:-3]}" for name in PAYMENT_FLOWS}


def test_every_payment_flow_is_on_the_desk() -> None:
    assert PAYMENT_FLOWS  # the glob finds them
    desk = imported_modules(EMULATOR / "_payments.py")
    assert {f".{name[:-3]}" for name in PAYMENT_FLOWS} <= desk


@pytest.mark.parametrize("flow", PAYMENT_FLOWS)
def test_a_payment_flow_builds_on_the_core_never_on_the_desk(flow: str) -> None:
    """A flow knows the shared core (and perhaps another flow), never the desk or the gateway."""
    modules = imported_modules(EMULATOR / flow)
    assert "._payment_core" in modules
    assert not modules & {"._payments", "._gateway", "._emulator"}


def test_payment_flows_import_each_other_one_way() -> None:
    """Flow-to-flow imports (a flow using another's objects) form no cycle."""
    done: set[str] = set()

    def visit(flow: str, path: tuple[str, ...]) -> None:
        assert flow not in path, f"import cycle: {' -> '.join((*path, flow))}"
        if flow in done:
            return
        for imported in flow_imports(flow):
            visit(f"{imported[1:]}.py", (*path, flow))
        done.add(flow)

    for flow in PAYMENT_FLOWS:
        visit(flow, ())


def test_the_payment_core_imports_no_flow() -> None:
    modules = imported_modules(EMULATOR / "_payment_core.py")
    assert not modules & {f".{name[:-3]}" for name in [*PAYMENT_FLOWS, "_payments.py"]}
