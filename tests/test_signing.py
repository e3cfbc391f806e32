"""The signer against the gateway reference signer's vectors, plus properties."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freedompay_async import signing
from freedompay_async.errors import MalformedResponse, UnsupportedValueType, ValidationError

DATA = Path(__file__).parent / "data"
PARAM_VECTORS = json.loads((DATA / "signature-vectors.json").read_text("utf-8"))
XML_VECTORS = json.loads((DATA / "xml-signature-vectors.json").read_text("utf-8"))


def test_vector_files_are_complete() -> None:
    assert len(PARAM_VECTORS) == 60
    assert len(XML_VECTORS) == 30


@pytest.mark.parametrize("case", PARAM_VECTORS, ids=lambda c: f"params-{c['id']}")
def test_param_vector(case: dict[str, Any]) -> None:
    assert signing.sign(case["script"], case["params"], case["secret"]) == case["sig"]
    expected = case["sig_string"][: -len(case["secret"])] + "***"
    shown = signing.signing_string(case["script"], case["params"], case["secret"], mask_cards=False)
    assert shown == expected
    assert signing.verify(case["script"], {**case["params"], "pg_sig": case["sig"]}, case["secret"])


@pytest.mark.parametrize("case", XML_VECTORS, ids=lambda c: f"xml-{c['id']}")
def test_xml_vector(case: dict[str, Any]) -> None:
    assert signing.verify_xml(case["script"], case["xml"], case["secret"])
    assert signing.verify_xml(case["script"], case["xml"].encode("utf-8"), case["secret"])
    assert not signing.verify_xml(case["script"], case["xml"], case["secret"] + "x")
    assert not signing.verify_xml(case["script"] + "x", case["xml"], case["secret"])


def test_documented_flattening_example() -> None:
    params = {"pg_amount": "10", "pg_receipt_positions": [{"name": "Tea", "count": "2"}]}
    # pg_amount001 -> 10, pg_receipt_positions0020001count002 -> 2, ...name001 -> Tea (sorted)
    assert (
        signing.signing_string("init_payment.php", params, "k") == "init_payment.php;10;2;Tea;***"
    )


def test_position_suffix_takes_part_in_the_sort() -> None:
    params = {"pg_a": "1", "pg_b": "2", "pg_c": "3", "pg_d": "4", "pg_x1": "one", "pg_x10": "ten"}
    # pg_x10006 sorts before pg_x1005: "ten" comes first although plain key order says otherwise.
    assert signing.signing_string("s", params, "k") == "s;1;2;3;4;ten;one;***"


@pytest.mark.parametrize(
    ("url", "script"),
    [
        ("/init_payment.php", "init_payment.php"),
        ("https://api.freedompay.kz/g2g/p2p2nonreg", "p2p2nonreg"),
        ("/g2g/payout_status2?x=1", "payout_status2"),
        ("https://api.freedompay.kz/v1/merchant/123/card/pay", "pay"),
        ("/api/reg2reg#frag", "reg2reg"),
        ("https://merchant.example/callbacks/", ""),
        ("https://merchant.example", ""),
    ],
)
def test_script_name(url: str, script: str) -> None:
    assert signing.script_name(url) == script


def test_values_int_and_decimal_render_exactly() -> None:
    as_text = {"pg_amount": "100", "pg_n": "7", "pg_x": "0.10"}
    typed = {"pg_amount": Decimal("1E+2"), "pg_n": 7, "pg_x": Decimal("0.10")}
    assert signing.sign("s", typed, "k") == signing.sign("s", as_text, "k")


@pytest.mark.parametrize("bad", [1.5, True, None, object()])
def test_lossy_or_unknown_values_are_refused(bad: object) -> None:
    with pytest.raises(UnsupportedValueType) as info:
        signing.sign("s", {"pg_list": [{"pg_amount": bad}]}, "k")
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ValidationError)
    assert info.value.field == "pg_list[0][pg_amount]"
    if isinstance(bad, float):
        assert "Decimal" in str(info.value)


def test_non_finite_decimal_is_refused() -> None:
    with pytest.raises(ValidationError, match="pg_amount"):
        signing.sign("s", {"pg_amount": Decimal("NaN")}, "k")


def test_signing_string_masks_secret_and_cards() -> None:
    params = {"pg_payment_to": "4405645000006150", "pg_amount": "10"}
    shown = signing.signing_string("p2p2nonreg", params, "TopSecret")
    assert "TopSecret" not in shown
    assert "4405645000006150" not in shown
    assert shown == "p2p2nonreg;10;440564******6150;***"


def test_verify_rejects_missing_or_odd_signatures() -> None:
    params = {"pg_a": "1"}
    assert not signing.verify("s", params, "k")
    assert not signing.verify("s", {**params, "pg_sig": "é"}, "k")
    good = signing.sign("s", params, "k")
    assert not signing.verify("s", {**params, "pg_sig": good.upper()}, "k")


def test_verify_xml_refuses_malformed_input() -> None:
    with pytest.raises(MalformedResponse):
        signing.verify_xml("s", "<response><pg_sig>x</response>", "k")


# --- properties -----------------------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12).map(
    lambda s: "pg_" + s
)
texts = st.text(max_size=20).filter(lambda s: "\x00" not in s)
leaf = st.one_of(
    texts,
    st.integers(-(10**12), 10**12),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
params_strategy = st.dictionaries(
    names,
    st.one_of(leaf, st.lists(st.dictionaries(names, texts, max_size=3), max_size=3)),
    min_size=1,
    max_size=8,
)
secrets_strategy = st.text(min_size=1, max_size=20)


@given(params_strategy, secrets_strategy)
def test_sign_then_verify(params: dict[str, Any], secret: str) -> None:
    sig = signing.sign("p2p2nonreg", params, secret)
    assert len(sig) == 32
    assert signing.verify("p2p2nonreg", {**params, "pg_sig": sig}, secret)


@given(params_strategy, secrets_strategy, st.text(max_size=32))
def test_existing_pg_sig_is_ignored(params: dict[str, Any], secret: str, junk: str) -> None:
    # pg_sig is skipped wherever it stands; a trailing one does not even shift positions.
    assert signing.sign("s", {**params, "pg_sig": junk}, secret) == signing.sign(
        "s", params, secret
    )


@given(params_strategy, secrets_strategy, st.data())
def test_any_change_changes_the_signature(
    params: dict[str, Any], secret: str, data: st.DataObject
) -> None:
    sig = signing.sign("reg2reg", params, secret)
    assert signing.sign("reg2reg", params, secret + "x") != sig
    assert signing.sign("reg2reg2", params, secret) != sig
    key = data.draw(st.sampled_from(sorted(params)))
    changed = dict(params)
    value = params[key]
    changed[key] = (str(value) + "1") if not isinstance(value, list) else [*value, {"pg_n": "1"}]
    assert signing.sign("reg2reg", changed, secret) != sig


# An independent model of the reference signer's XML check (SimpleXML walk in document order,
# then the parameter flattening run over the flat array again), built on ElementTree.
def _reference_xml_sig(script: str, xml: str, secret: str) -> str:
    root = ET.fromstring(xml)  # noqa: S314 - our own generated XML

    def walk(element: ET.Element, parent: str) -> dict[str, str]:
        flat: dict[str, str] = {}
        for i, child in enumerate(list(element), 1):
            if child.tag == "pg_sig":
                continue
            name = f"{parent}{child.tag}{i:03d}"
            if len(child):
                flat = {**flat, **{k: v for k, v in walk(child, name).items() if k not in flat}}
            else:
                flat.setdefault(name, child.text or "")
        return flat

    first = walk(root, "")
    second = {f"{k}{i:03d}": v for i, (k, v) in enumerate(first.items(), 1)}
    joined = ";".join([script, *(second[k] for k in sorted(second)), secret])
    return hashlib.md5(joined.encode()).hexdigest()


# Characters XML can carry: U+FFFE and U+FFFF are valid UTF-8 but not XML (parsers refuse them).
xml_texts = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"
    ),
    max_size=10,
)
xml_tree = st.recursive(
    xml_texts,
    lambda children: st.dictionaries(
        names,
        st.one_of(children, st.lists(children, min_size=2, max_size=3)),
        min_size=1,
        max_size=4,
    ),
    max_leaves=12,
)


@settings(max_examples=150)
@given(
    st.dictionaries(names, xml_tree, min_size=1, max_size=6),
    secrets_strategy,
    st.sampled_from(["response", "root"]),
)
def test_xml_signing_matches_the_reference_model(
    fields: dict[str, Any], secret: str, root: str
) -> None:
    body = signing.sign_xml("payout_status2", fields, secret, root=root)
    text = body.decode("utf-8")
    assert signing.verify_xml("payout_status2", body, secret)
    received = ET.fromstring(text).findtext("pg_sig")  # noqa: S314 - our own XML
    assert received == _reference_xml_sig("payout_status2", text, secret)
