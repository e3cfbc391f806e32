"""The package's public surface: every exported name resolves, the version is the metadata's."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import freedompay_async


def test_every_exported_name_resolves() -> None:
    for name in freedompay_async.__all__:
        assert getattr(freedompay_async, name) is not None, name
    assert set(freedompay_async.__all__) <= set(dir(freedompay_async))


def test_version_comes_from_the_package_metadata() -> None:
    assert freedompay_async.__version__ == version("freedompay-async")


def test_importing_the_package_loads_no_http_stack() -> None:
    code = "import sys, freedompay_async\nprint('aiohttp' in sys.modules)"
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


ROOT = Path(__file__).resolve().parent.parent
#: ``pip install freedompay-async[...]`` from an index: the package is on none (see README).
FROM_AN_INDEX = re.compile(r"pip install\s+[\"']?freedompay[-_]async(?:\[|[\"'\s]|$)")


def test_no_install_instruction_names_an_index_that_lacks_the_package() -> None:
    texts = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    texts += (ROOT / "freedompay_async").rglob("*.py")
    offending = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in texts
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if FROM_AN_INDEX.search(line)
    ]
    assert offending == []
