"""Property tests: callbacks signed by the reference algorithm survive every transport; random
and broken requests only ever raise the library's typed callback errors."""

from __future__ import annotations

import contextlib
from typing import Any

from callback_helpers import (
    FORM,
    TRANSPORTS,
    Transport,
    callback_url,
    deliver,
    multipart,
    signed,
    xml_document,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from freedompay_async._wire import encode_form, flatten, parse_form
from freedompay_async.callbacks import (
    CallbackAnswer,
    CardSavedNotification,
    CheckRequest,
    GatewayCallback,
    PayoutNotification,
    ResultNotification,
    parse_callback,
    received_fields,
    verify_fields,
)
from freedompay_async.errors import CallbackError, CallbackSignatureError, MalformedCallback

KEY = "fuzz-key"
KINDS: list[type[GatewayCallback]] = [
    GatewayCallback,
    CheckRequest,
    ResultNotification,
    PayoutNotification,
    CardSavedNotification,
]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_RESERVED = {"pg_sig", "pg_xml"}
# Any text without surrogates (which no transport can carry).
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
values = st.one_of(
    text,
    st.sampled_from(["", "0", "500.00", "Заказ №7", "emoji 😀", "a&b=c;d", "<tag>", "line\nbreak"]),
)
plain_names = st.one_of(
    st.sampled_from(["pg_amount", "pg_order_id", "pg_payment_id", "pg_x1", "pg_x10", "shop"]),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10),
).filter(lambda name: name not in _RESERVED)
bracket_names = st.builds(
    lambda head, keys: head + "".join(f"[{key}]" for key in keys),
    st.sampled_from(["pg_receipt_positions", "pg_x", "items"]),
    st.lists(st.sampled_from(["", "0", "1", "10", "name", "price", "Имя"]), min_size=1, max_size=3),
)
names = st.one_of(plain_names, bracket_names)
pairs_strategy = st.lists(st.tuples(names, values), max_size=12)

# XML needs element names and text XML can carry.
xml_names = st.from_regex(r"[a-z_][a-z0-9_.-]{0,8}", fullmatch=True).filter(
    lambda name: name not in _RESERVED and not name.lower().startswith("xml")
)
xml_values = st.text(
    # XML 1.0 characters: no surrogates, controls (but tab/newlines) or U+FFFE/U+FFFF
    st.characters(
        exclude_categories=["Cs", "Cc"],
        include_characters="\t\n\r",
        exclude_characters="\ufffe\uffff",
    ),
    max_size=12,
)
# Multipart names travel inside a quoted header parameter.
multipart_names = names.filter(lambda name: not set(name) & set('"\\\r\n'))


def _expected(query: list[tuple[str, str]], pairs: list[tuple[str, str]]) -> dict[str, str]:
    nested = parse_form([*query, *pairs])
    return {form_name: value for _, form_name, value in flatten(nested)}


def _check_round_trip(
    transport: Transport, query: list[tuple[str, str]], pairs: list[tuple[str, str]]
) -> None:
    url = callback_url("result", encode_form(query).decode("ascii"))
    request = deliver(transport, url, signed(url, pairs, KEY))
    received = received_fields(*request)
    fields = verify_fields(received, script="result", secret_key=KEY)
    assert dict(fields) == _expected(query, pairs)
    if not any(name.partition("[")[0] == "pg_payment_id" for name, _ in pairs):
        with_payment = signed(url, [("pg_payment_id", "7"), *pairs], KEY)
        request = deliver(transport, url, with_payment)
        callback = parse_callback(GatewayCallback, *request, secret_key=KEY)
        assert callback.verified
        assert callback.payment_id == 7


@FAST
@given(
    transport=st.sampled_from(["query", "form"]),
    query=st.lists(st.tuples(plain_names, values), max_size=3),
    pairs=pairs_strategy,
)
def test_form_round_trip(transport: Transport, query: Any, pairs: Any) -> None:
    _check_round_trip(transport, query, pairs)


@FAST
@given(
    query=st.lists(st.tuples(plain_names, values), max_size=3),
    pairs=st.lists(st.tuples(multipart_names, values), max_size=12),
)
def test_multipart_round_trip(query: Any, pairs: Any) -> None:
    _check_round_trip("multipart", query, pairs)


@FAST
@given(
    transport=st.sampled_from(["pg_xml", "xml"]),
    query=st.lists(st.tuples(plain_names, values), max_size=3),
    fields=st.dictionaries(xml_names, xml_values, max_size=12),
)
def test_xml_round_trip(transport: Transport, query: Any, fields: Any) -> None:
    _check_round_trip(transport, query, list(fields.items()))


@FAST
@given(
    transport=st.sampled_from(TRANSPORTS),
    fields=st.dictionaries(xml_names, xml_values, min_size=1, max_size=8),
    data=st.data(),
)
def test_any_changed_value_fails(transport: Transport, fields: Any, data: st.DataObject) -> None:
    url = callback_url("result")
    pairs = signed(url, list(fields.items()), KEY)
    index = data.draw(st.integers(0, len(pairs) - 2))
    name, value = pairs[index]
    other = data.draw(xml_values.filter(lambda new: new != value))
    assume(transport not in ("pg_xml", "xml") or other.replace("\r", "\n") != value)
    tampered = [*pairs[:index], (name, other), *pairs[index + 1 :]]
    received = received_fields(*deliver(transport, url, tampered))
    try:
        verify_fields(received, script="result", secret_key=KEY)
    except CallbackSignatureError:
        return
    raise AssertionError(f"changed {name!r} still verifies")


content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            FORM,
            f"{FORM}; charset=utf-8",
            f"{FORM}; charset=nope",
            "multipart/form-data",
            "multipart/form-data; boundary=b",
            'multipart/form-data; boundary="b"; charset=utf-8',
            "application/xml",
            "text/xml; charset=utf-8",
            "application/json",
            "text/plain",
        ]
    ),
    text,
)
urls = st.one_of(
    st.just("/freedompay/result"),
    st.builds(lambda query: f"/cb/result?{query}", text),
    st.builds(lambda path: f"/{path}", text),
    text,
)


def _only_typed_errors(url: str, body: bytes, content_type: str | None) -> None:
    with contextlib.suppress(MalformedCallback):
        received_fields(url, body, content_type)
    for kind in KINDS:
        try:
            callback = parse_callback(kind, url, body, content_type, secret_key=KEY)
        except CallbackError:
            continue
        CallbackAnswer.ok().render(callback, secret_key=KEY)


@FAST
@given(url=urls, body=st.binary(max_size=300), content_type=content_types)
def test_random_bytes(url: str, body: bytes, content_type: str | None) -> None:
    _only_typed_errors(url, body, content_type)


multipart_chunks = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"--b\r\n",
                b"--b--\r\n",
                b'Content-Disposition: form-data; name="pg_sig"\r\n',
                b'Content-Disposition: form-data; name="a"; filename="x"\r\n',
                b"Content-Disposition: form-data; name*=utf-8''%D0%B8\r\n",
                b"Content-Disposition: attachment\r\n",
                b"Content-Type: text/plain; charset=latin-1\r\n",
                b"Content-Type: multipart/mixed; boundary=c\r\n",
                b"Content-Transfer-Encoding: base64\r\n",
                b"\r\n",
                b"\xd0\x97\xff\r\n",
            ]
        ),
        st.binary(max_size=20),
    ),
    max_size=14,
)


@FAST
@given(chunks=multipart_chunks, boundary=st.sampled_from(["b", '"b"', "", "c"]))
def test_broken_multipart(chunks: list[bytes], boundary: str) -> None:
    _only_typed_errors("/cb/result", b"".join(chunks), f"multipart/form-data; boundary={boundary}")


xml_chunks = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "<request>",
                "</request>",
                "<pg_sig>",
                "</pg_sig>",
                "<pg_payment_id>1</pg_payment_id>",
                "<a><b>1</b></a>",
                "<a>",
                "</a>",
                "<!DOCTYPE x>",
                '<!ENTITY e "x">',
                "&e;",
                "&amp;",
                "<![CDATA[x]]>",
                "<?xml version='1.0' encoding='latin-1'?>",
                "<x:y xmlns:x='u'>1</x:y>",
                "<!-- c -->",
                "\x00",
            ]
        ),
        text,
    ),
    max_size=12,
)


@FAST
@given(chunks=xml_chunks, transport=st.sampled_from(["pg_xml", "xml"]))
def test_broken_xml(chunks: list[str], transport: str) -> None:
    xml = "".join(chunks)
    if transport == "pg_xml":
        _only_typed_errors("/cb/result", encode_form([("pg_xml", xml)]), FORM)
    else:
        _only_typed_errors("/cb/result", xml.encode("utf-8", "replace"), "text/xml")


@FAST
@given(pairs=st.lists(st.tuples(names, values), max_size=12), transport=st.sampled_from(TRANSPORTS))
def test_random_unsigned_fields(pairs: list[tuple[str, str]], transport: Transport) -> None:
    request: tuple[str, bytes, str | None]
    if transport in ("pg_xml", "xml"):
        request = ("/cb/result", xml_document([]).encode(), "text/xml")
    elif transport == "multipart":
        body, content_type = multipart((n.replace('"', ""), v) for n, v in pairs)
        request = ("/cb/result", body, content_type)
    else:
        request = deliver(transport, "/cb/result", pairs)
    _only_typed_errors(*request)
