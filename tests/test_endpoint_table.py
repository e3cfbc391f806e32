"""The endpoint table against the documentation excerpts (``shared/api``): every documented
script is either in the table or listed as not supported with a reason; every documented field
of a script is in its entry (or named as not sent, with the reason), required where the docs
plainly require it, with the documented bounds; every documented answer field is declared;
every method the table names exists; README and docs/endpoints.md are the table as generated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _api_docs import ENVELOPE, EXCERPTS, PIPELINE, DocEndpoint, read_excerpts

from freedompay_async import FreedomPayClient
from freedompay_async._endpoints import (
    CALLS,
    ENDPOINTS,
    RECEIPT_FIELDS,
    UNSUPPORTED,
    Endpoint,
    endpoint_fields_markdown,
    endpoint_table_markdown,
)
from freedompay_async._fields import Field

ROOT = Path(__file__).parent.parent
needs_excerpts = pytest.mark.skipif(not EXCERPTS, reason="the shared documentation is not here")
_NUMERIC = frozenset({"amount", "int"})
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


@needs_excerpts
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


def test_the_docs_and_readme_tables_are_the_generated_ones() -> None:
    page = (ROOT / "docs" / "endpoints.md").read_text(encoding="utf-8")
    assert endpoint_table_markdown() in page
    assert page.endswith(endpoint_fields_markdown())
    assert endpoint_table_markdown() in (ROOT / "README.md").read_text(encoding="utf-8")


def documented_endpoints() -> list[tuple[Endpoint, DocEndpoint]]:
    excerpts = read_excerpts()
    pairs = [
        (endpoint, excerpts[endpoint.path]) for endpoint in ENDPOINTS if endpoint.path in excerpts
    ]
    assert len(pairs) >= 30  # the excerpts' request tables were read
    return pairs


def _spec(endpoint: Endpoint, name: str) -> Field | None:
    receipt = re.fullmatch(r"pg_receipt_positions\[i\]\[([a-z_]+)\]", name)
    if receipt:
        if "pg_receipt_positions" not in {field.name for field in endpoint.fields}:
            return None
        return next(field for field in RECEIPT_FIELDS if field.name == receipt[1])
    return next((field for field in endpoint.fields if field.name == name), None)


@needs_excerpts
def test_every_documented_field_is_in_the_table_or_explained() -> None:
    missing = [
        f"{endpoint.path}: {name}"
        for endpoint, doc in documented_endpoints()
        for name in doc.request
        if name not in PIPELINE and name not in endpoint.not_sent and _spec(endpoint, name) is None
    ]
    assert missing == []


@needs_excerpts
def test_fields_are_required_where_the_docs_plainly_say_so() -> None:
    wrong = []
    for endpoint, doc in documented_endpoints():
        for name in doc.request:
            spec = _spec(endpoint, name)
            said = doc.required(name)
            if spec is None or said is None or name in endpoint.deviations:
                continue
            if name.startswith("pg_receipt_positions["):
                continue  # each line's fields are required within an optional receipt
            if spec.required != said:
                wrong.append(f"{endpoint.path}: {name} documented required={said}")
    assert wrong == []


@needs_excerpts
def test_documented_bounds_are_the_tables() -> None:
    wrong = []
    for endpoint, doc in documented_endpoints():
        for name, mentions in doc.request.items():
            spec = _spec(endpoint, name)
            if spec is None:
                continue
            for mention in mentions:
                numbers = mention.value_range()
                if numbers is not None and spec.kind in _NUMERIC:
                    low, high = numbers
                    assert spec.values is not None, name
                    if spec.values[0] != low or (high is not None and spec.values[1] != high):
                        wrong.append(f"{endpoint.path}: {name} {numbers} != {spec.values}")
                elif (
                    numbers is not None  # "1…50" for a text
                    and numbers[1] is not None
                    and spec.length != (int(numbers[0] or 0), int(numbers[1]))
                ):
                    wrong.append(f"{endpoint.path}: {name} {numbers} != {spec.length}")
                longest = mention.max_length()
                if longest is not None and (spec.length is None or spec.length[1] != longest):
                    wrong.append(f"{endpoint.path}: {name} <= {longest} != {spec.length}")
                lengths = mention.length_range()
                if lengths is not None and spec.length != lengths:
                    wrong.append(f"{endpoint.path}: {name} {lengths} != {spec.length}")
    assert wrong == []


@needs_excerpts
def test_every_documented_answer_field_is_declared() -> None:
    missing = [
        f"{endpoint.path}: {name}"
        for endpoint, doc in documented_endpoints()
        for name in doc.answer
        if name not in ENVELOPE
        and name not in endpoint.answer
        # answers' prose also names request fields ("only with pg_extend_data=1", "the
        # result goes to pg_post_link", card/pay's pg_result_url): those are not answer fields
        and name not in doc.request
        and name != "pg_result_url"
    ]
    assert missing == []
