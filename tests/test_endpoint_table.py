"""The endpoint table against the documentation excerpts (``/work/shared/api``): every
documented script is either in the table or listed as not supported with a reason, every
method the table names exists, and docs/endpoints.md is the table as generated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from freedompay_async import FreedomPayClient
from freedompay_async._endpoints import (
    CALLS,
    ENDPOINTS,
    UNSUPPORTED,
    endpoint_table_markdown,
)

ROOT = Path(__file__).parent.parent
# The excerpts live next to the project in the shared workspace; a copy would go stale.
EXCERPTS = sorted(Path("/work/shared/api").glob("*.md"))
# "POST `/g2g/cardstorage/add`" / "`/v1/merchant/{mid}/card/init`" in an endpoint table row.
_PATH = re.compile(r"`(?:POST )?/((?:g2g|api|v\d|mfs)/[A-Za-z0-9_/{}.]+|[a-z_0-9]+\.php)`")


def documented_paths() -> set[str]:
    paths: set[str] = set()
    for excerpt in EXCERPTS:
        for line in excerpt.read_text(encoding="utf-8").splitlines():
            if not line.startswith("| ") or "POST" not in line:
                continue
            for path in _PATH.findall(line):
                paths.add(path.replace("{mid}", "{merchant_id}"))
    return paths


@pytest.mark.skipif(not EXCERPTS, reason="the shared documentation excerpts are not here")
def test_every_documented_script_is_in_the_table_or_explained() -> None:
    documented = documented_paths()
    assert len(documented) >= 40  # the excerpts' endpoint tables were read
    known = {endpoint.path for endpoint in ENDPOINTS} | set(UNSUPPORTED)
    assert sorted(documented - known) == []


def test_every_named_method_exists() -> None:
    client = FreedomPayClient("552893", "k", base_url="http://127.0.0.1:9")
    for endpoint in ENDPOINTS:
        for call in CALLS.get(endpoint.name, endpoint.name).split(", "):
            facade, _, method = call.partition("(")[0].partition(".")
            assert callable(getattr(getattr(client, facade), method)), call


def test_the_docs_table_is_the_generated_one() -> None:
    page = (ROOT / "docs" / "endpoints.md").read_text(encoding="utf-8")
    assert page.endswith(endpoint_table_markdown())
