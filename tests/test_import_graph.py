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
