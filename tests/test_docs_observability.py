"""docs/observability.md: every Python block runs as written (each in its own interpreter, as a
reader would paste it) and prints what the page says it prints."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "observability.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), flags=re.M | re.S)


def run(code: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter, the page's code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_page_has_its_three_examples() -> None:
    assert len(BLOCKS) == 3


def test_the_lost_answer_example_prints_its_spans_and_metrics() -> None:
    lines = run(BLOCKS[0]).splitlines()
    assert lines[0] == "PayoutState.SUCCESS"
    assert [line.split() for line in lines[1:5]] == [
        ["POST", "g2g/p2p2nonreg", "outcome_unknown"],
        ["POST", "g2g/payout_status2", "ok"],
        ["payouts.status"],
        ["payouts.to_card"],
    ]
    names = ast.literal_eval(lines[5])
    documented = set(re.findall(r"^\| `(freedompay\.[a-z_.]+)` \|", PAGE.read_text(), re.M))
    assert set(names) <= documented
    assert {"freedompay.client.request.duration", "freedompay.payout.reconciles"} <= set(names)


def test_every_span_metric_and_attribute_name_is_documented() -> None:
    package = PAGE.parent.parent / "freedompay_async"
    source = (package / "_telemetry.py").read_text()
    names = set(re.findall(r'"(freedompay\.[a-z_.]+?)\.?"', source))
    names |= set(re.findall(r'"(payouts\.[a-z_.]+)"', source))
    names |= set(re.findall(r'@operation\("([a-z_.]+)"', (package / "payouts.py").read_text()))
    names |= set(re.findall(r'"((?:http|server|url|error)\.[a-z_.]+)"', source))
    assert len(names) > 30
    page = PAGE.read_text()
    assert [name for name in sorted(names) if f"`{name}" not in page] == []


def test_the_logging_recipes_print_json_with_the_fields() -> None:
    for block in BLOCKS[1:]:
        (line,) = run(block).splitlines()
        record = json.loads(line)
        assert record["freedompay_endpoint"] == "g2g/balance_status"
        assert record["freedompay_outcome"] == "ok"
        assert record["freedompay_http_status"] == 200
