"""The expat fast path for flat answers gives exactly what xmltodict gives."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freedompay_async import signing
from freedompay_async._wire import (
    _MAX_PLAIN_LEAVES,
    FlatShape,
    _NotFlat,
    _parse_flat,
    _parse_nested,
    _parse_plain,
    decode_answer,
    parse_xml,
    signer_values,
)

DATA = Path(__file__).parent / "data"
VECTORS = json.loads((DATA / "xml-signature-vectors.json").read_text("utf-8"))


@pytest.mark.parametrize("vector", VECTORS, ids=lambda vector: str(vector["id"]))
def test_every_xml_vector_decodes_alike_and_verifies(vector: dict[str, str]) -> None:
    raw = vector["xml"].encode("utf-8")
    expected = _parse_nested(raw)
    with contextlib.suppress(_NotFlat):  # nested or repeated: xmltodict decodes it
        assert _parse_flat(raw) == expected[:2]
    document = parse_xml(raw)
    assert (document.root, document.fields, list(document.signed_fields)) == expected
    root, fields, values, _ = decode_answer(raw)
    assert (root, fields, list(values)) == (*expected[:2], signer_values(expected[2]))
    assert signing.verify_document(vector["script"], document, vector["secret"])


_tags = st.sampled_from(
    ["pg_status", "pg_sig", "pg_salt", "pg_order_id", "pg_x", "a", "ns:tag", "ü_tag", "pg_a1"]
)
_texts = st.text(
    # Not XML characters (refused by expat; the plain path's refusal: test_perf_paths).
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r\ufffe\uffff"),
    max_size=20,
).filter(lambda text: all(ch >= " " or ch in "\t\n" for ch in text))
_spaces = st.sampled_from(["", "\n", "\n    ", " \t"])


@st.composite
def _flat_documents(draw: st.DrawFn) -> bytes:
    tags = draw(st.lists(_tags, unique=True, max_size=8))
    parts = []
    if draw(st.booleans()):
        parts.append('<?xml version="1.0" encoding="utf-8"?>\n')
    root = draw(st.sampled_from(["response", "root", "x"]))
    parts.append(f"<{root}>")
    for tag in tags:
        parts.append(draw(_spaces))
        if draw(st.booleans()):
            parts.append("<!-- note -->")
        text = draw(_texts)
        form = draw(st.sampled_from(["pair", "empty", "cdata", "attr"]))
        if form == "empty" and not text:
            parts.append(f"<{tag}/>")
        elif form == "cdata" and "]]>" not in text:
            parts.append(f"<{tag}><![CDATA[{text}]]></{tag}>")
        elif form == "attr":
            parts.append(f'<{tag} kind="x">{escape(text)}</{tag}>')
        else:
            parts.append(f"<{tag}>{escape(text)}</{tag}>")
    parts.append(draw(_spaces))
    if draw(st.booleans()):
        parts.append(escape(draw(_texts)))  # text directly in the root
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")


@st.composite
def _plain_documents(draw: st.DrawFn) -> bytes:
    """What the gateway usually sends: distinct leaves of text with nothing to unescape."""
    names = _tags.filter(lambda tag: tag.isascii() and ":" not in tag)
    tags = draw(st.lists(names, unique=True, max_size=8))
    texts = _texts.filter(lambda text: not set(text) & set("<>&"))
    leaves = "".join(f"{draw(_spaces)}<{tag}>{draw(texts)}</{tag}>" for tag in tags)
    declaration = draw(st.sampled_from(["", '<?xml version="1.0" encoding="utf-8"?>\n']))
    return f"{declaration}<response>{leaves}{draw(_spaces)}</response>".encode()


@given(_plain_documents())
def test_the_plain_path_reads_every_plain_document(raw: bytes) -> None:
    assert _parse_plain(raw) == _parse_nested(raw)[:2]


@given(_flat_documents() | _plain_documents())
def test_flat_fast_paths_match_xmltodict(raw: bytes) -> None:
    expected = _parse_nested(raw)
    assert _parse_flat(raw) == expected[:2]
    plain = _parse_plain(raw)
    assert plain is None or plain == expected[:2]
    document = parse_xml(raw)
    assert (document.root, document.fields, list(document.signed_fields)) == expected
    # What the request path verifies: the signed values in the signer's order.
    root, fields, values, _ = decode_answer(raw)
    assert (root, fields, list(values)) == (*expected[:2], signer_values(expected[2]))


@given(_flat_documents() | _plain_documents(), _flat_documents() | _plain_documents())
def test_an_expected_shape_never_changes_what_an_answer_decodes_to(
    raw: bytes, other: bytes
) -> None:
    root, fields, values, shape = decode_answer(raw)
    assert shape is not None
    if _parse_plain(raw) is not None:  # a plain document of its own shape takes the short path
        assert shape.read(raw) == fields
    # Its own shape, another document's, the same names in another order.
    for expected in (shape, decode_answer(other)[3], FlatShape.of(root, tuple(fields)[::-1])):
        again = decode_answer(raw, expected=expected)
        assert (again[0], again[1], list(again[2]), again[3]) == (root, fields, list(values), shape)


@pytest.mark.parametrize(
    "raw",
    [
        b"<r><a>x &amp; y</a></r>",  # an entity to decode
        b"<r><a>x\r\ny</a></r>",  # line ends a parser normalises
        b"<r><a/></r>",
        b"<r><a>\xef\xbf\xbf</a></r>",  # U+FFFF: not an XML character
        b"<r><a>1</a><a>2</a></r>",
        b"<r><a>\xff</a></r>",  # not UTF-8
        b'<?xml version="1.0" encoding="windows-1251"?><r><a>\xe0</a></r>',
    ],
)
def test_the_plain_path_leaves_anything_a_parser_would_change(raw: bytes) -> None:
    assert _parse_plain(raw) is None


@pytest.mark.parametrize("leaves", [0, 1, 2, 7, _MAX_PLAIN_LEAVES])
@pytest.mark.parametrize("space", ["", "\n  "])
def test_the_plain_path_reads_the_usual_answer(leaves: int, space: str) -> None:
    # As the gateway writes them: a declaration, the leaves in a row (or on lines of their own).
    body = "".join(f"{space}<pg_f{n}>value {n}</pg_f{n}>" for n in range(leaves))
    raw = f'<?xml version="1.0" encoding="utf-8"?>\n<response>{body}{space}</response>'.encode()
    assert _parse_plain(raw) is not None
    assert _parse_plain(raw) == _parse_nested(raw)[:2]


def test_the_plain_path_leaves_long_answers_to_expat() -> None:
    fields = {f"pg_f{n}": "x" for n in range(_MAX_PLAIN_LEAVES)}
    raw = signing.sign_xml("p2p2nonreg", fields, "key")  # with pg_salt and pg_sig
    assert _parse_plain(raw) is None
    assert parse_xml(raw).fields == _parse_nested(raw)[1]


@pytest.mark.parametrize(
    "raw",
    [
        b"<r><a>1</a><a>2</a></r>",  # repeated tag: a list
        b"<r><a><b>1</b></a></r>",  # nested
        b"<r><pg_sig>1</pg_sig><pg_sig>2</pg_sig></r>",
    ],
)
def test_nested_or_repeated_answers_leave_the_fast_path(raw: bytes) -> None:
    with pytest.raises(_NotFlat):
        _parse_flat(raw)
    document = parse_xml(raw)
    assert (document.root, document.fields, list(document.signed_fields)) == _parse_nested(raw)
