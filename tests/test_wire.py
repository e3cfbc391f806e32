"""Form encoding and XML decoding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freedompay_async import signing
from freedompay_async._wire import encode_form, flatten, parse_form, parse_xml
from freedompay_async.errors import MalformedResponse, ProtocolError

SEED_002 = Path(__file__).parent / "data" / "seed-002-card-pay-answer.xml"


def test_nested_parameters_travel_php_style() -> None:
    params = {
        "pg_amount": Decimal("25.50"),
        "pg_receipt_positions": [
            {"name": "Tea & milk", "count": 2, "price": Decimal("12.75")},
            {"name": "Чай", "count": "1"},
        ],
    }
    fields = flatten(params)
    assert [(form, value) for _, form, value in fields] == [
        ("pg_amount", "25.50"),
        ("pg_receipt_positions[0][name]", "Tea & milk"),
        ("pg_receipt_positions[0][count]", "2"),
        ("pg_receipt_positions[0][price]", "12.75"),
        ("pg_receipt_positions[1][name]", "Чай"),
        ("pg_receipt_positions[1][count]", "1"),
    ]
    body = encode_form((form, value) for _, form, value in fields)
    decoded = parse_qsl(body.decode("ascii"), keep_blank_values=True)
    assert decoded == [(form, value) for _, form, value in fields]


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map(
    lambda s: "pg_" + s
)
values = st.text(max_size=12)
nested = st.dictionaries(
    names,
    st.one_of(
        values,
        st.lists(st.dictionaries(names, values, min_size=1, max_size=3), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=6,
)


@given(nested)
def test_what_is_sent_is_what_was_signed(params: dict[str, Any]) -> None:
    """A PHP-style receiver rebuilding the form gets parameters with the same signature."""
    body = encode_form((form, value) for _, form, value in flatten(params))
    received = parse_form(parse_qsl(body.decode("ascii"), keep_blank_values=True))
    assert signing.sign("init_payment.php", received, "k") == signing.sign(
        "init_payment.php", params, "k"
    )


def test_parse_form_appends_empty_brackets() -> None:
    assert parse_form([("a[]", "x"), ("a[]", "y"), ("b", "1")]) == {
        "a": {"0": "x", "1": "y"},
        "b": "1",
    }


@pytest.mark.parametrize("root", ["response", "root", "anything"])
def test_any_root_empty_leaves_and_repeated_tags(root: str) -> None:
    xml = (
        f"<?xml version='1.0' encoding='utf-8'?>\n<{root}>\n  <pg_status>ok</pg_status>\n"
        "  <pg_redirect_url></pg_redirect_url><pg_empty/>\n"
        "  <pg_cards><pg_card><pg_card_id>1</pg_card_id></pg_card>"
        "<pg_card><pg_card_id>2</pg_card_id></pg_card></pg_cards>\n"
        "  <pg_text>  spaced  </pg_text>\n"
        f"</{root}>"
    )
    document = parse_xml(xml.encode("utf-8"))
    assert document.root == root
    assert document.fields == {
        "pg_status": "ok",
        "pg_redirect_url": "",
        "pg_empty": "",
        "pg_cards": {"pg_card": [{"pg_card_id": "1"}, {"pg_card_id": "2"}]},
        "pg_text": "  spaced  ",
    }


def test_seed_002_example_answer_is_malformed() -> None:
    raw = SEED_002.read_bytes()
    with pytest.raises(MalformedResponse) as info:
        parse_xml(raw)
    assert info.value.raw == raw
    assert isinstance(info.value, ProtocolError)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>502 Bad Gateway</body>",
        b"not xml at all",
        b"<response><a>1</a></response><extra/>",
    ],
)
def test_broken_bodies_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(MalformedResponse) as info:
        parse_xml(body)
    assert info.value.raw == body


def test_entity_tricks_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><response><pg_status>&b;</pg_status></response>'
    )
    with pytest.raises(MalformedResponse, match="DTD"):
        parse_xml(bomb)
    external = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><a>&x;</a></r>'
    with pytest.raises(MalformedResponse):
        parse_xml(external)


def test_oversized_body_is_refused() -> None:
    body = b"<response><pg_status>" + b"x" * 2000 + b"</pg_status></response>"
    with pytest.raises(MalformedResponse, match="exceeds"):
        parse_xml(body, max_bytes=1000)


@pytest.mark.parametrize(
    "fields",
    [
        {"pg_status": "ok", "pg_refund_payments": {"pg_refund_payment": []}},
        {"pg_status": "ok", "pg_refund_payments": {}},
        {"pg_refund_payments": {"pg_refund_payment": [{"pg_amount": "-1"}, {"pg_amount": "-2"}]}},
    ],
)
def test_signed_xml_with_empty_containers_verifies(fields: dict[str, Any]) -> None:
    body = signing.sign_xml("get_status3.php", fields, "key")
    assert signing.verify_document("get_status3.php", parse_xml(body), "key")
