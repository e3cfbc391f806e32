"""Callbacks from the gateway: transports, verification, typed results, signed answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from callback_helpers import (
    FORM,
    TRANSPORTS,
    Transport,
    callback_url,
    deliver,
    form_pairs,
    multipart,
    notification,
    signed,
    xml_document,
)

from freedompay_async import signing
from freedompay_async._convert import GATEWAY_TIMEZONE
from freedompay_async._wire import MAX_BODY_BYTES, encode_form, parse_xml
from freedompay_async.callbacks import (
    AnswerStatus,
    CallbackAnswer,
    CardSavedNotification,
    CardSaveStatus,
    CheckRequest,
    GatewayCallback,
    PaymentResult,
    PayoutNotification,
    ResultNotification,
    parse_callback,
    parse_callback_unverified,
    received_fields,
    verify_fields,
)
from freedompay_async.errors import (
    CallbackError,
    CallbackSignatureError,
    ConfigurationError,
    MalformedCallback,
    RejectionNotAllowed,
    ValidationError,
)
from freedompay_async.payouts import PayoutState

DATA = Path(__file__).parent / "data"
VECTORS: list[dict[str, Any]] = json.loads((DATA / "signature-vectors.json").read_text("utf-8"))

KEY = "payment-key"
PAYOUT_KEY = "payout-key"
PAN = "4405645000006150"

RESULT = {
    "pg_order_id": "order-7",
    "pg_payment_id": "1234567",
    "pg_amount": "500.00",
    "pg_currency": "KZT",
    "pg_net_amount": "482.50",
    "pg_ps_amount": "500",
    "pg_ps_full_amount": "500.00",
    "pg_ps_currency": "KZT",
    "pg_description": "Заказ №7",
    "pg_result": "1",
    "pg_payment_date": "2026-11-21 14:05:00",
    "pg_can_reject": "1",
    "pg_testing_mode": "1",
    "pg_captured": "0",
    "pg_payment_method": "bankcard",
    "pg_card_pan": PAN,
    "pg_card_exp": "03/28",
    "pg_card_brand": "VI",
    "pg_card_token": "tok-secret-card-token",
    "pg_user_phone": "77777777777",
    "pg_user_contact_email": "payer@example.com",
    "shop_cart": "cart-42",
}
CHECK = {
    "pg_order_id": "order-7",
    "pg_payment_id": "1234567",
    "pg_amount": "500.00",
    "pg_currency": "KZT",
    "pg_ps_amount": "500",
    "pg_ps_currency": "KZT",
    "pg_ps_full_amount": "500.00",
    "shop_cart": "cart-42",
}
PAYOUT = {
    "pg_payment_id": "98765",
    "pg_order_id": "payout-1",
    "pg_merchant_id": "552893",
    "pg_status": "ok",
    "pg_card_hash": "440564******6150",
    "pg_balance": "99000.00",
    "pg_payment_amount": "1000.00",
    "pg_to_pay": "1010.00",
    "pg_payment_date": "2026-11-21T09:00:00+00:00",
}
CARD_SAVED = {
    "pg_type": "approve",
    "pg_payment_id": "555",
    "pg_order_id": "",
    "pg_card_3ds": "1",
    "pg_card_hash": "440564-XX-XXXX-6150",
    "pg_card_id": "77",
    "pg_card_token": "tok-saved-secret",
    "pg_user_id": "user-9",
    "pg_status": "success",
    "pg_card_month": "03",
    "pg_card_year": "28",
}


def _url(vector: dict[str, Any]) -> str:
    return callback_url(vector["script"])


def _vector_pairs(vector: dict[str, Any]) -> list[tuple[str, str]]:
    """The vector's params as form pairs, its ``pg_sig`` at the position the signer counted."""
    params = dict(vector["params"])
    params["pg_sig"] = vector["sig"]  # replaces a stray pg_sig in place, or goes last
    return form_pairs(params)


def _is_flat(vector: dict[str, Any]) -> bool:
    return all(isinstance(value, str) for value in vector["params"].values())


# -- vectors of the reference signer --------------------------------------------------------


def _verifies(
    pairs: list[tuple[str, str]], url: str, key: str, transport: Transport = "form"
) -> bool:
    url, body, content_type = deliver(transport, url, pairs)
    received = received_fields(url, body, content_type)
    try:
        verify_fields(received, script=signing.script_name(url), secret_key=key)
    except CallbackSignatureError:
        return False
    return True


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"vector-{v['id']}")
def test_reference_vectors_verify_and_tampering_fails(vector: dict[str, Any]) -> None:
    pairs, url, key = _vector_pairs(vector), _url(vector), vector["secret"]
    assert _verifies(pairs, url, key)
    fields = verify_fields(pairs, script=vector["script"], secret_key=key)
    assert dict(fields) == {name: value for name, value in pairs if name != "pg_sig"}
    for index, (name, value) in enumerate(pairs):
        if name != "pg_sig":
            tampered = [*pairs[:index], (name, value + "x"), *pairs[index + 1 :]]
            assert not _verifies(tampered, url, key), name
    assert not _verifies([(n, v) for n, v in pairs if n != "pg_sig"], url, key)
    assert not _verifies(pairs, url, key + "x")
    assert not _verifies(pairs, callback_url(vector["script"] + "x"), key)
    assert not _verifies([*pairs, ("pg_extra", "injected")], url, key)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_transport_carries_the_same_flat_notification(transport: Transport) -> None:
    flat = [v for v in VECTORS if _is_flat(v)]
    assert len(flat) > 20
    for vector in flat:
        pairs = _vector_pairs(vector)
        url, body, content_type = deliver(transport, _url(vector), pairs)
        assert received_fields(url, body, content_type) == pairs, vector["id"]
        assert _verifies(pairs, _url(vector), vector["secret"], transport)


@pytest.mark.parametrize("transport", ["query", "form", "multipart"])
def test_nested_vectors_verify_through_bracket_names(transport: Transport) -> None:
    nested = [v for v in VECTORS if not _is_flat(v)]
    assert len(nested) > 10
    for vector in nested:
        pairs = _vector_pairs(vector)
        assert any("[" in name for name, _ in pairs)
        assert _verifies(pairs, _url(vector), vector["secret"], transport), vector["id"]


def test_nested_xml_children_verify_as_bracket_fields() -> None:
    url = callback_url("result")
    params = {
        "pg_payment_id": "1",
        "pg_receipt": {"name": "Tea", "count": "2"},
        "pg_lines": [{"sku": "a", "qty": "1"}, {"sku": "b", "qty": "3"}],
        "pg_salt": "s",
    }
    sig = signing.sign("result", params, KEY)
    xml = (
        "<request><pg_payment_id>1</pg_payment_id>"
        "<pg_receipt><name>Tea</name><count>2</count></pg_receipt>"
        "<pg_lines><sku>a</sku><qty>1</qty></pg_lines><pg_lines><sku>b</sku><qty>3</qty></pg_lines>"
        f"<pg_salt>s</pg_salt><pg_sig>{sig}</pg_sig></request>"
    )
    callback = parse_callback(
        GatewayCallback, url, encode_form([("pg_xml", xml)]), FORM, secret_key=KEY
    )
    assert callback.fields["pg_receipt[name]"] == "Tea"
    assert callback.fields["pg_lines[1][qty]"] == "3"


# -- the merchant URL's own query string ----------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_query_parameters_of_the_merchant_url_are_signed(transport: Transport) -> None:
    url = callback_url("result", "shop=kz&lang=ru")
    pairs = notification(url, RESULT, KEY)
    request = deliver(transport, url, pairs)
    callback = parse_callback(ResultNotification, *request, secret_key=KEY)
    assert callback.extra["shop"] == "kz"
    assert list(callback.fields)[:2] == ["shop", "lang"]
    # Dropping or changing the URL's parameters breaks the signature.
    for other in (callback_url("result"), callback_url("result", "shop=uz&lang=ru")):
        moved = deliver(transport, other, pairs)
        with pytest.raises(CallbackSignatureError):
            parse_callback(ResultNotification, *moved, secret_key=KEY)


def test_script_is_the_last_path_segment_or_the_override() -> None:
    pairs = notification("https://shop.example/pay/result.php", RESULT, KEY)
    body = encode_form(pairs)
    for url in ("https://shop.example/pay/result.php", "/other/prefix/result.php?"):
        callback = parse_callback(ResultNotification, url, body, FORM, secret_key=KEY)
        assert callback.script == "result.php"
    with pytest.raises(CallbackSignatureError, match="pass script="):
        parse_callback(ResultNotification, "/internal/cb", body, FORM, secret_key=KEY)
    callback = parse_callback(
        ResultNotification, "/internal/cb", body, FORM, secret_key=KEY, script="result.php"
    )
    assert callback.script == "result.php"
    root = notification("https://shop.example/pay/", RESULT, KEY)
    assert parse_callback(ResultNotification, "/pay/", encode_form(root), FORM, secret_key=KEY)


# -- typed results ---------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "hours"), [("kz", 5), ("uz", 5), ("kg", 6)])
def test_naive_callback_dates_are_the_regions_local_time(region: str, hours: int) -> None:
    url = callback_url("result")
    body = encode_form(notification(url, RESULT, KEY))
    result = parse_callback(ResultNotification, url, body, FORM, secret_key=KEY, region=region)
    assert result.payment_date == datetime(
        2026, 11, 21, 14, 5, tzinfo=timezone(timedelta(hours=hours))
    )
    payout_url = callback_url("payout")
    naive = {**PAYOUT, "pg_payment_date": "2026-11-21 14:05:00"}
    payout = parse_callback(
        PayoutNotification,
        payout_url,
        encode_form(notification(payout_url, naive, KEY)),
        FORM,
        secret_key=KEY,
        region=region,
    )
    assert payout.payment_date is not None
    assert payout.payment_date.utcoffset() == timedelta(hours=hours)
    with pytest.raises(ValueError, match="region"):
        parse_callback(ResultNotification, url, body, FORM, secret_key=KEY, region="ru")


def test_result_notification() -> None:
    url = callback_url("result")
    pairs = notification(url, RESULT, KEY)
    result = parse_callback(ResultNotification, url, encode_form(pairs), FORM, secret_key=KEY)
    assert result.verified
    assert (result.order_id, result.payment_id) == ("order-7", 1234567)
    assert result.result is PaymentResult.SUCCESS
    assert result.succeeded
    assert result.result_raw == "1"
    assert result.can_reject
    assert result.amount == Decimal("500.00")
    assert result.net_amount == Decimal("482.50")
    assert (result.ps_amount, result.ps_full_amount) == (Decimal(500), Decimal("500.00"))
    assert (result.currency, result.ps_currency) == ("KZT", "KZT")
    assert result.payment_date == datetime(2026, 11, 21, 14, 5, tzinfo=GATEWAY_TIMEZONE)
    assert result.testing_mode
    assert result.captured is False
    assert result.card_pan == "440564******6150"
    assert result.card_token == "tok-secret-card-token"
    assert result.description == "Заказ №7"
    assert (result.user_phone, result.user_email) == ("77777777777", "payer@example.com")
    assert dict(result.extra) == {"shop_cart": "cart-42"}
    assert "pg_sig" not in result.fields
    assert result.fields["pg_salt"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [("0", PaymentResult.FAILURE), ("2", PaymentResult.UNKNOWN), ("", PaymentResult.UNKNOWN)],
)
def test_result_values_besides_success(word: str, expected: PaymentResult) -> None:
    url = callback_url("result")
    fields = {**RESULT, "pg_result": word}
    del fields["pg_can_reject"]
    pairs = notification(url, fields, KEY)
    result = parse_callback(ResultNotification, url, encode_form(pairs), FORM, secret_key=KEY)
    assert result.result is expected
    assert result.result_raw == word
    assert not result.succeeded
    assert not result.can_reject


def test_check_request_can_always_be_rejected() -> None:
    url = callback_url("check")
    pairs = notification(url, CHECK, KEY)
    check = parse_callback(CheckRequest, url, encode_form(pairs), FORM, secret_key=KEY)
    assert (check.order_id, check.payment_id, check.amount) == ("order-7", 1234567, Decimal(500))
    assert check.ps_full_amount == Decimal("500.00")
    assert check.can_reject
    xml = CallbackAnswer.rejected("Out of stock").render(check, secret_key=KEY)
    assert parse_xml(xml).fields["pg_status"] == "rejected"


def test_payout_notification_uses_the_payout_key() -> None:
    url = callback_url("payouts")
    body = encode_form(notification(url, PAYOUT, PAYOUT_KEY))
    payout = parse_callback(
        PayoutNotification, url, body, FORM, secret_key=KEY, payout_secret_key=PAYOUT_KEY
    )
    assert payout.state is PayoutState.SUCCESS
    assert (payout.order_id, payout.payment_id, payout.merchant_id) == ("payout-1", 98765, "552893")
    assert (payout.amount, payout.to_pay, payout.balance) == (
        Decimal("1000.00"),
        Decimal("1010.00"),
        Decimal("99000.00"),
    )
    assert payout.payment_date is not None
    assert payout.payment_date.utcoffset() is not None
    assert payout.card_hash == "440564******6150"
    assert not payout.can_reject
    # Only one key given: it signs everything, as in the client.
    assert parse_callback(PayoutNotification, url, body, FORM, secret_key=PAYOUT_KEY)
    with pytest.raises(CallbackSignatureError):
        parse_callback(PayoutNotification, url, body, FORM, secret_key=KEY)
    with pytest.raises(CallbackSignatureError):  # a payment callback is not signed with it
        parse_callback(
            ResultNotification, url, body, FORM, secret_key=KEY, payout_secret_key=PAYOUT_KEY
        )


@pytest.mark.parametrize(
    ("status", "state"),
    [("error", PayoutState.ERROR), ("", PayoutState.UNKNOWN), ("weird", PayoutState.UNKNOWN)],
)
def test_payout_notification_states(status: str, state: PayoutState) -> None:
    url = callback_url("payouts")
    fields = {**PAYOUT, "pg_status": status, "pg_error_code": "10001"}
    payout = parse_callback(
        PayoutNotification, url, encode_form(notification(url, fields, KEY)), FORM, secret_key=KEY
    )
    assert payout.state is state
    assert payout.status_raw == status
    assert payout.error_code == 10001


def test_card_saved_notification() -> None:
    url = callback_url("cards")
    body = encode_form(notification(url, CARD_SAVED, KEY))
    saved = parse_callback(CardSavedNotification, url, body, FORM, secret_key=KEY)
    assert saved.status is CardSaveStatus.SUCCESS
    assert saved.saved
    assert saved.order_id is None  # sent empty
    assert (saved.payment_id, saved.user_id, saved.card_id) == (555, "user-9", "77")
    assert saved.card_token == "tok-saved-secret"
    assert (saved.card_month, saved.card_year, saved.card_3ds) == ("03", "28", "1")
    assert not saved.can_reject


@pytest.mark.parametrize(
    ("kind", "fields", "missing"),
    [
        (ResultNotification, RESULT, "pg_payment_id"),
        (ResultNotification, RESULT, "pg_amount"),
        (CheckRequest, CHECK, "pg_amount"),
        (PayoutNotification, PAYOUT, "pg_payment_id"),
    ],
)
def test_documented_field_missing_is_malformed(
    kind: type[GatewayCallback], fields: dict[str, str], missing: str
) -> None:
    url = callback_url("cb")
    for value in (None, "", "not-a-number", "NaN"):
        changed = {k: v for k, v in fields.items() if k != missing}
        if value is not None:
            changed[missing] = value
        body = encode_form(notification(url, changed, KEY))
        with pytest.raises(MalformedCallback, match=missing) as refused:
            parse_callback(kind, url, body, FORM, secret_key=KEY)
        assert refused.value.raw == body


def test_reprs_hide_secrets_and_card_numbers() -> None:
    url = callback_url("result")
    pairs = notification(url, {**RESULT, "shop_note": f"card {PAN}"}, KEY)
    result = parse_callback(ResultNotification, url, encode_form(pairs), FORM, secret_key=KEY)
    shown = repr(result) + repr(result.fields) + repr(result.extra) + str(result)
    assert PAN not in shown
    assert "tok-secret-card-token" not in repr(result)
    assert KEY not in shown
    assert dict(pairs)["pg_sig"] not in shown
    assert "order-7" in repr(result)
    assert "SUCCESS" in repr(result)
    assert result.fields["shop_note"] == f"card {PAN}"  # the value itself is as received


def test_unverified_parsing_is_explicit() -> None:
    url = callback_url("result")
    unsigned = encode_form(RESULT.items())
    with pytest.raises(CallbackSignatureError, match="no pg_sig"):
        parse_callback(ResultNotification, url, unsigned, FORM, secret_key=KEY)
    result = parse_callback_unverified(ResultNotification, url, unsigned, FORM)
    assert not result.verified
    assert "verified=False" in repr(result)
    forged = encode_form(signed(url, list(RESULT.items()), "not-the-key"))
    assert not parse_callback_unverified(ResultNotification, url, forged, FORM).verified


def test_errors_keep_the_request_but_mask_messages() -> None:
    url = f"/cb/{PAN}"
    body = encode_form(notification(url, RESULT, "other-key"))
    with pytest.raises(CallbackSignatureError) as refused:
        parse_callback(ResultNotification, url, body, FORM, secret_key=KEY)
    error = refused.value
    assert isinstance(error, CallbackError)
    assert PAN not in str(error)
    assert "440564******6150" in str(error)
    assert error.raw == body
    assert ("pg_card_pan", PAN) in error.fields
    assert KEY not in str(error)


@pytest.mark.parametrize("key", ["", None])
def test_a_key_is_required(key: Any) -> None:
    with pytest.raises(ConfigurationError):
        parse_callback(ResultNotification, "/cb", b"", None, secret_key=key)


# -- refusing what is not a callback ---------------------------------------------------------


def _malformed(url: str, body: bytes, content_type: str | None) -> MalformedCallback:
    with pytest.raises(MalformedCallback) as refused:
        received_fields(url, body, content_type)
    return refused.value


def test_unreadable_requests_are_malformed() -> None:
    url = callback_url("result")
    assert "content type" in str(_malformed(url, b"{}", "application/json"))
    _malformed(url, b"pg_amount=%FF", FORM)
    _malformed(url + "?x=%FF", b"", None)
    _malformed(url, "pg_description=Заказ".encode("cp1251"), FORM)
    _malformed(url, b"x" * (MAX_BODY_BYTES + 1), FORM)
    _malformed(url, b"&".join([b"a=1"] * 10_001), FORM)
    _malformed(url, ("a" + "[x]" * 65 + "=1").encode(), FORM)
    _malformed("http://[::1/cb", b"", None)
    assert _malformed(url, b"a=%FF", FORM).raw == b"a=%FF"


def test_charset_of_a_form_body_is_honoured() -> None:
    body = "pg_description=Заказ".encode("cp1251")
    pairs = received_fields("/cb", body, f"{FORM}; charset=windows-1251")
    assert pairs == [("pg_description", "Заказ")]


def test_multipart_refusals() -> None:
    url = callback_url("result")
    body, content_type = multipart([("pg_amount", "10"), ("pg_description", "Тест\r\n№7")])
    assert received_fields(url, body, content_type) == [
        ("pg_amount", "10"),
        ("pg_description", "Тест\r\n№7"),
    ]
    _malformed(url, body, "multipart/form-data")  # no boundary
    _malformed(url, body[: len(body) // 2], content_type)  # truncated
    _malformed(url, body, content_type + "\r\nX-Injected: 1")
    boundary = content_type.partition("boundary=")[2]
    upload = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nabc\r\n--{boundary}--\r\n"
    ).encode()
    assert "file" in str(_malformed(url, upload, content_type))
    no_name = f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--{boundary}--\r\n"
    _malformed(url, no_name.encode(), content_type)


def test_xml_refusals() -> None:
    url = callback_url("result")
    good = xml_document([("pg_payment_id", "1")])
    assert received_fields(url, encode_form([("pg_xml", good)]), FORM) == [("pg_payment_id", "1")]
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><request><x>&a;</x></request>'
    for xml in (bomb, "<request><x>1</request>", "not xml", good.replace("</request>", "")):
        _malformed(url, encode_form([("pg_xml", xml)]), FORM)
        _malformed(url, xml.encode(), "text/xml")
    twice = encode_form([("pg_xml", good), ("pg_xml", good)])
    assert "more than one" in str(_malformed(url, twice, FORM))
    deep = "<request>" + "<a>" * 70 + "1" + "</a>" * 70 + "</request>"
    _malformed(url, encode_form([("pg_xml", deep)]), FORM)


def test_pg_xml_keeps_its_place_among_query_fields() -> None:
    url = callback_url("result", "shop=kz")
    xml = xml_document([("pg_payment_id", "1"), ("pg_salt", "s")])
    assert received_fields(url, encode_form([("pg_xml", xml)]), FORM) == [
        ("shop", "kz"),
        ("pg_payment_id", "1"),
        ("pg_salt", "s"),
    ]


# -- answers ---------------------------------------------------------------------------------


def _result(**changes: str) -> ResultNotification:
    url = callback_url("result")
    pairs = notification(url, {**RESULT, **changes}, KEY)
    return parse_callback(ResultNotification, url, encode_form(pairs), FORM, secret_key=KEY)


@pytest.mark.parametrize(
    "answer",
    [CallbackAnswer.ok(), CallbackAnswer.rejected("Нет в наличии"), CallbackAnswer.error("bad")],
)
def test_answers_are_signed_xml(answer: CallbackAnswer) -> None:
    result = _result()
    xml = answer.render(result, secret_key=KEY)
    document = parse_xml(xml)
    assert document.root == "response"
    assert list(document.fields) == ["pg_status", "pg_description", "pg_salt", "pg_sig"]
    assert document.fields["pg_status"] == answer.status.value
    assert document.fields["pg_description"] == answer.description
    assert signing.verify_document("result", document, KEY)
    assert not signing.verify_document("result", document, PAYOUT_KEY)
    assert not signing.verify_document("check", document, KEY)
    again = parse_xml(answer.render(result, secret_key=KEY))
    assert again.fields["pg_salt"] != document.fields["pg_salt"]


def test_rejected_only_when_allowed() -> None:
    answer = CallbackAnswer.rejected("Out of stock")
    assert answer.status is AnswerStatus.REJECTED
    with pytest.raises(RejectionNotAllowed, match="cannot be rejected"):
        answer.render(_result(pg_can_reject="0"), secret_key=KEY)
    url = callback_url("payouts")
    payout = parse_callback(
        PayoutNotification, url, encode_form(notification(url, PAYOUT, KEY)), FORM, secret_key=KEY
    )
    with pytest.raises(RejectionNotAllowed):
        answer.render(payout, secret_key=KEY)
    assert CallbackAnswer.ok().render(_result(pg_can_reject="0"), secret_key=KEY)


def test_payout_answer_is_signed_with_the_payout_key() -> None:
    url = callback_url("payouts")
    body = encode_form(notification(url, PAYOUT, PAYOUT_KEY))
    payout = parse_callback(PayoutNotification, url, body, FORM, secret_key=PAYOUT_KEY)
    xml = CallbackAnswer.ok().render(payout, secret_key=KEY, payout_secret_key=PAYOUT_KEY)
    assert signing.verify_xml("payouts", xml, PAYOUT_KEY)


def test_answer_descriptions() -> None:
    assert CallbackAnswer.error("a\r\nb\rc").description == "a\nb\nc"
    with pytest.raises(ValidationError):
        CallbackAnswer.rejected("bell\x07")
    xml = CallbackAnswer.rejected("<b>&</b>").render(_result(), secret_key=KEY)
    assert parse_xml(xml).fields["pg_description"] == "<b>&</b>"
    assert signing.verify_xml("result", xml, KEY)
