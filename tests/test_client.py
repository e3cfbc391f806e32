"""FreedomPayClient over real loopback HTTP against a small scripted gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web

from freedompay_async import (
    BadSignature,
    ConfigurationError,
    FreedomPayClient,
    GatewayError,
    MalformedResponse,
    OutcomeUnknown,
    RequestNotSent,
    RetryPolicy,
    SignatureMismatch,
    UnexpectedHTTPStatus,
    UnknownMerchant,
    UnsignedResponse,
    ValidationError,
    signing,
)
from freedompay_async._wire import parse_form
from freedompay_async.errors import GatewayOutcomeUnknown, InvalidParameter, TransactionNotFound

pytestmark = pytest.mark.anyio

MERCHANT = "552893"
PAYMENT_KEY = "pay-SECRET-7f3a"
PAYOUT_KEY = "out-SECRET-91bc"
PAN = "4405645000006150"
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02, deadline=5)

Handler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


class ScriptedGateway:
    """Records every request (form pairs in order) and answers with the current ``handler``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self.handler: Handler = self.ok
        self.url = ""

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        pairs = parse_qsl((await request.read()).decode("utf-8"), keep_blank_values=True)
        self.requests.append((request.path, pairs))
        return await self.handler(request, parse_form(pairs))

    @staticmethod
    def answer(
        request: web.Request, fields: dict[str, Any], *, key: str | None = None
    ) -> web.Response:
        script = signing.script_name(request.path)
        secret = key or (PAYOUT_KEY if request.path.startswith("/g2g/") else PAYMENT_KEY)
        body = signing.sign_xml(script, fields, secret)
        return web.Response(body=body, content_type="application/xml")

    async def ok(self, request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        return self.answer(
            request, {"pg_status": "ok", "pg_order_id": params.get("pg_order_id", "")}
        )

    def params(self, index: int = -1) -> dict[str, Any]:
        return parse_form(self.requests[index][1])

    def reply_with(self, fields: dict[str, Any]) -> None:
        """Answer every request with these signed fields."""

        async def reply(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
            return self.answer(request, fields)

        self.handler = reply


@pytest.fixture
async def gateway() -> AsyncIterator[ScriptedGateway]:
    scripted = ScriptedGateway()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", scripted.dispatch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scripted.url = f"http://127.0.0.1:{port}"
    yield scripted
    await runner.cleanup()


@pytest.fixture
async def client(gateway: ScriptedGateway) -> AsyncIterator[FreedomPayClient]:
    async with FreedomPayClient(
        MERCHANT,
        PAYMENT_KEY,
        payout_secret_key=PAYOUT_KEY,
        base_url=gateway.url,
        retry=FAST_RETRY,
        timeout=aiohttp.ClientTimeout(total=2),
    ) as fp:
        yield fp


PAYOUT = {
    "pg_order_id": "order-1",
    "pg_amount": Decimal("1500.00"),
    "pg_description": "Salary",
    "pg_payment_to": PAN,
    "pg_post_link": "https://merchant.example/payouts/notify",
}


async def test_request_is_signed_over_exactly_what_is_sent(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    answer = await client.request("g2g/p2p2nonreg", PAYOUT)
    assert answer.status == "ok"
    assert answer["pg_order_id"] == "order-1"
    assert answer.root == "response"
    path, pairs = gateway.requests[0]
    assert path == "/g2g/p2p2nonreg"
    received = parse_form(pairs)
    assert received["pg_merchant_id"] == MERCHANT
    assert received["pg_amount"] == "1500.00"
    assert received["pg_payment_to"] == PAN
    assert len(received["pg_salt"]) >= 8
    assert "pg_idempotency_key" not in received  # payouts do not declare one
    assert pairs[-1][0] == "pg_sig"
    assert signing.verify("p2p2nonreg", received, PAYOUT_KEY)
    assert not signing.verify("p2p2nonreg", received, PAYMENT_KEY)


async def test_payment_endpoints_use_the_payment_key_and_nested_params(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    params = {
        "pg_order_id": "inv-7",
        "pg_amount": Decimal("20"),
        "pg_description": "Tea",
        "pg_receipt_positions": [{"name": "Tea", "count": 2, "price": Decimal("10")}],
    }
    await client.request("/init_payment.php", params)
    received = gateway.params()
    assert received["pg_receipt_positions"] == {"0": {"name": "Tea", "count": "2", "price": "10"}}
    assert signing.verify("init_payment.php", received, PAYMENT_KEY)


async def test_key_override_for_undocumented_choices(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    gateway.handler = lambda request, params: _async(
        ScriptedGateway.answer(request, {"pg_status": "ok"}, key=PAYMENT_KEY)
    )
    await client.request("g2g/balance_status", {"pg_currency": "KZT"}, key="payment")
    assert signing.verify("balance_status", gateway.params(), PAYMENT_KEY)


async def _async(response: web.StreamResponse) -> web.StreamResponse:
    return response


async def test_idempotency_key_is_deterministic_and_only_where_declared(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    params = {"pg_order_id": "m-1", "pg_amount": "100", "pg_description": "x"}
    await client.request("init_payment.php", params)
    await client.request("init_payment.php", params)
    first, second = gateway.params(0), gateway.params(1)
    assert first["pg_idempotency_key"] == second["pg_idempotency_key"]
    assert first["pg_salt"] != second["pg_salt"]
    await client.request("init_payment.php", {**params, "pg_order_id": "m-2"})
    assert gateway.params(2)["pg_idempotency_key"] != first["pg_idempotency_key"]
    await client.request("init_payment.php", params, idempotency_key="caller-key-1")
    assert gateway.params(3)["pg_idempotency_key"] == "caller-key-1"
    with pytest.raises(ValidationError, match="pg_idempotency_key"):
        await client.request("g2g/p2p2nonreg", PAYOUT, idempotency_key="nope")
    assert len(gateway.requests) == 4


async def test_ambiguous_attempt_with_idempotency_key_is_retried_with_the_same_key(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    async def drop_first(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        if len(gateway.requests) == 1:
            assert request.transport is not None
            request.transport.close()
            raise web.HTTPInternalServerError
        return await gateway.ok(request, params)

    gateway.handler = drop_first
    answer = await client.request(
        "init_payment.php", {"pg_order_id": "m-9", "pg_amount": "5", "pg_description": "d"}
    )
    assert answer.status == "ok"
    assert len(gateway.requests) == 2
    first, second = gateway.params(0), gateway.params(1)
    assert first["pg_idempotency_key"] == second["pg_idempotency_key"]
    assert first["pg_salt"] != second["pg_salt"]
    assert signing.verify("init_payment.php", second, PAYMENT_KEY)


async def test_money_movement_is_never_resent_after_a_dropped_connection(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    async def commit_then_drop(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        raise web.HTTPInternalServerError

    gateway.handler = commit_then_drop
    with pytest.raises(OutcomeUnknown) as info:
        await client.request("g2g/p2p2nonreg", PAYOUT)
    assert info.value.order_id == "order-1"
    assert len(gateway.requests) == 1


async def test_read_timeout_after_sending_is_outcome_unknown(gateway: ScriptedGateway) -> None:
    async def slow(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        await asyncio.sleep(1)
        return await gateway.ok(request, params)

    gateway.handler = slow
    async with FreedomPayClient(
        MERCHANT,
        PAYMENT_KEY,
        payout_secret_key=PAYOUT_KEY,
        base_url=gateway.url,
        retry=FAST_RETRY,
        timeout=aiohttp.ClientTimeout(total=0.2),
    ) as fp:
        with pytest.raises(OutcomeUnknown) as info:
            await fp.request("g2g/p2p2nonreg", PAYOUT)
        assert info.value.order_id == "order-1"
        assert len(gateway.requests) == 1
        # A read is safe to repeat: it is attempted up to the policy's bound.
        with pytest.raises(OutcomeUnknown):
            await fp.request("g2g/payout_status2", {"pg_order_id": "order-1"})
        assert len(gateway.requests) == 1 + FAST_RETRY.attempts


async def test_connection_refused_is_request_not_sent_and_retried() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts: list[int] = []

    async def count(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        attempts.append(1)
        return await handler(request)

    async with FreedomPayClient(
        MERCHANT,
        PAYMENT_KEY,
        base_url=f"http://127.0.0.1:{port}",
        retry=FAST_RETRY,
        middlewares=[count],
    ) as fp:
        with pytest.raises(RequestNotSent) as info:
            await fp.request("g2g/p2p2nonreg", PAYOUT)
    assert info.value.order_id == "order-1"
    assert len(attempts) == FAST_RETRY.attempts


@pytest.mark.parametrize(
    ("respond", "error"),
    [
        (
            lambda r: web.Response(status=502, body=b"<html>Bad Gateway</html>"),
            UnexpectedHTTPStatus,
        ),
        (lambda r: web.Response(body=b"<response><pg_status>ok</pg_status>"), MalformedResponse),
        (
            lambda r: web.Response(
                body=b"<response><pg_status>ok</pg_status><pg_payment_id>1</pg_payment_id></response>"
            ),
            UnsignedResponse,
        ),
        (
            lambda r: web.Response(
                body=signing.sign_xml("p2p2nonreg", {"pg_status": "ok"}, PAYMENT_KEY)  # wrong key
            ),
            SignatureMismatch,
        ),
        (
            lambda r: web.Response(
                body=signing.sign_xml(
                    "payout_status2", {"pg_status": "ok"}, PAYOUT_KEY
                )  # wrong script
            ),
            SignatureMismatch,
        ),
    ],
)
async def test_untrustworthy_answers_are_typed_and_keep_the_body(
    client: FreedomPayClient,
    gateway: ScriptedGateway,
    respond: Callable[[web.Request], web.Response],
    error: type[Exception],
) -> None:
    gateway.handler = lambda request, params: _async(respond(request))
    with pytest.raises(error) as info:
        await client.request("g2g/p2p2nonreg", PAYOUT)
    assert info.value.raw  # type: ignore[attr-defined]
    assert len(gateway.requests) == 1  # money movement: never re-sent on an ambiguous answer


async def test_status_reads_are_retried_on_5xx(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    async def flaky(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        if len(gateway.requests) < 3:
            return web.Response(status=503, text="busy")
        return gateway.answer(request, {"pg_status": "ok", "pg_payment_status": "success"})

    gateway.handler = flaky
    answer = await client.request("g2g/payout_status2", {"pg_order_id": "order-1"})
    assert answer["pg_payment_status"] == "success"
    assert len(gateway.requests) == 3


async def test_unsigned_unknown_merchant_is_an_error_never_success(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    body = (
        b"<response><pg_status>error</pg_status><pg_error_code>9998</pg_error_code>"
        b"<pg_error_description>Merchant not found</pg_error_description></response>"
    )
    gateway.handler = lambda request, params: _async(web.Response(body=body))
    with pytest.raises(UnknownMerchant) as info:
        await client.request("g2g/balance_status", {})
    assert info.value.code == 9998
    assert info.value.raw == body


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("100", BadSignature),
        ("110", InvalidParameter),
        ("9999", GatewayOutcomeUnknown),
        ("10001", GatewayError),
    ],
)
async def test_signed_gateway_errors_by_code(
    client: FreedomPayClient, gateway: ScriptedGateway, code: str, error: type[GatewayError]
) -> None:
    async def refuse(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        return gateway.answer(
            request,
            {
                "pg_status": "error",
                "pg_error_code": code,
                "pg_error_description": f"card {PAN} refused",
            },
        )

    gateway.handler = refuse
    with pytest.raises(error) as info:
        await client.request("g2g/p2p2nonreg", PAYOUT)
    assert type(info.value) is error
    assert info.value.code == int(code)
    assert PAN not in str(info.value)
    assert "440564******6150" in str(info.value)
    assert info.value.fields["pg_error_code"] == code


async def test_payout_status_v1_error_is_an_outcome_not_an_exception(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    gateway.handler = lambda request, params: _async(
        gateway.answer(request, {"pg_status": "error", "pg_payment_id": "7"})
    )
    answer = await client.request("g2g/payout_status", {"pg_order_id": "order-1"})
    assert answer.status == "error"
    gateway.handler = lambda request, params: _async(
        gateway.answer(
            request,
            {"pg_status": "error", "pg_error_code": "11068", "pg_error_description": "Not found"},
        )
    )
    with pytest.raises(TransactionNotFound):
        await client.request("g2g/payout_status", {"pg_order_id": "order-2"})


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**PAYOUT, "pg_amount": 10.5}, "pg_amount"),
        ({**PAYOUT, "pg_amount": True}, "pg_amount"),
        ({**PAYOUT, "pg_salt": "mine"}, "pg_salt"),
        ({**PAYOUT, "pg_merchant_id": MERCHANT}, "pg_merchant_id"),
        ({**PAYOUT, "pg_idempotency_key": "k"}, "pg_idempotency_key"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    client: FreedomPayClient, gateway: ScriptedGateway, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await client.request("g2g/p2p2nonreg", params)
    assert info.value.field == field
    assert gateway.requests == []


async def test_logs_one_line_per_attempt_without_secrets_or_card_numbers(
    client: FreedomPayClient, gateway: ScriptedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    async def flaky(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        if len(gateway.requests) == 1:
            return web.Response(status=500, text=f"boom {PAN}")
        return gateway.answer(request, {"pg_status": "ok", "pg_payment_to": PAN})

    gateway.handler = flaky
    caplog.set_level(logging.DEBUG, logger="freedompay_async")
    answer = await client.request(
        "g2g/payout_status2", {"pg_order_id": "order-1", "pg_payment_to": PAN}
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "freedompay_async"]
    assert len(lines) == 2
    assert "attempt=1 " in lines[0]
    assert "UnexpectedHTTPStatus" in lines[0]
    assert "attempt=2 " in lines[1]
    assert "outcome=status=ok" in lines[1]
    assert "order_id=order-1" in lines[1]
    everything = caplog.text + repr(client) + repr(answer)
    sent = gateway.params()
    for secret in (PAYMENT_KEY, PAYOUT_KEY, PAN, sent["pg_sig"]):
        assert secret not in everything


async def test_borrowed_session_stays_open_and_extra_middlewares_run(
    gateway: ScriptedGateway,
) -> None:
    seen: list[str] = []

    async def trace(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        seen.append(request.url.path)
        return await handler(request)

    gateway.handler = lambda request, params: _async(
        gateway.answer(request, {"pg_status": "ok"}, key=PAYMENT_KEY)
    )
    async with aiohttp.ClientSession() as session:
        async with FreedomPayClient(
            MERCHANT, PAYMENT_KEY, base_url=gateway.url, session=session, middlewares=[trace]
        ) as fp:
            await fp.request("g2g/balance_status", {}, key="payout")
            assert fp.session is session
        assert not session.closed
        assert fp.closed  # the client is done with it; the session is its owner's
    assert seen == ["/g2g/balance_status"]
    # With a single key, it signs payout endpoints too.
    assert signing.verify("balance_status", gateway.params(), PAYMENT_KEY)


async def test_merchant_id_in_path_is_filled_in(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    gateway.handler = lambda request, params: _async(
        gateway.answer(request, {"pg_status": "ok"}, key=PAYMENT_KEY)
    )
    await client.request("v1/merchant/{merchant_id}/card/pay", {"pg_payment_id": "1"})
    assert gateway.requests[0][0] == f"/v1/merchant/{MERCHANT}/card/pay"
    assert signing.verify("pay", gateway.params(), PAYMENT_KEY)
    # The concrete path is the same declared endpoint: card init keeps its idempotency key.
    await client.request(f"/v1/merchant/{MERCHANT}/card/init", {"pg_order_id": "c-1"})
    assert "pg_idempotency_key" in gateway.params()


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("abc", "k"), {}),
        ((True, "k"), {}),
        (("1", ""), {}),
        (("1", "k"), {"payout_secret_key": ""}),
        (("1", "k"), {"region": "uz", "environment": "test"}),
        (("1", "k"), {"base_url": "ftp://x"}),
        (("1", "k"), {"connection_limit": 0}),
    ],
)
def test_configuration_errors(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        FreedomPayClient(*args, **kwargs)


def test_region_hosts() -> None:
    assert FreedomPayClient(1, "k", region="uz").base_url == "https://api.freedompay.uz"
    assert (
        FreedomPayClient(1, "k", region="kg", environment="test").base_url
        == "https://test-api.freedompay.kg"
    )
    assert "sekret-value" not in repr(FreedomPayClient(1, "sekret-value"))


async def test_an_outer_retrying_middleware_cannot_resend_a_payout(
    gateway: ScriptedGateway,
) -> None:
    async def retry_twice(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        response = await handler(request)
        response.release()
        return await handler(request)

    async with FreedomPayClient(
        MERCHANT, PAYOUT_KEY, base_url=gateway.url, middlewares=[retry_twice]
    ) as fp:
        with pytest.raises(ConfigurationError, match="re-send"):
            await fp.request("g2g/p2p2nonreg", PAYOUT)
        assert len(gateway.requests) == 1
        # A read may be repeated by whoever likes.
        await fp.request("g2g/payout_status2", {"pg_order_id": "order-1"})
        assert len(gateway.requests) == 3


async def test_cvc_page_html_is_returned_as_it_is(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    page_html = "<html><form action='https://pay.example/cvc'><input name='cvc'></form></html>"

    async def html(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        return web.Response(text=page_html, content_type="text/html")

    gateway.handler = html
    page = await client.cards.cvc_page(100200)
    assert page.html == page_html
    assert page.redirect_url is None
    path, _ = gateway.requests[0]
    assert path == f"/v1/merchant/{MERCHANT}/card/pay"
    sent = gateway.params()
    assert sent["pg_payment_id"] == "100200"
    assert signing.verify("pay", sent, PAYMENT_KEY)


async def test_redirects_are_returned_never_followed(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    async def redirect(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        if request.path.endswith("/elsewhere"):
            return gateway.answer(request, {"pg_status": "ok"})
        return web.Response(status=302, headers={"Location": f"{gateway.url}/elsewhere"})

    gateway.handler = redirect
    page = await client.cards.cvc_page(100200)
    assert page.redirect_url == f"{gateway.url}/elsewhere"
    assert page.html is None
    # An XML endpoint answering with a redirect is an unexpected status, not a second request.
    with pytest.raises(UnexpectedHTTPStatus) as caught:
        await client.request("g2g/p2p2nonreg", PAYOUT)
    assert caught.value.status == 302
    assert [path for path, _ in gateway.requests] == [
        f"/v1/merchant/{MERCHANT}/card/pay",
        "/g2g/p2p2nonreg",
    ]


async def test_cvc_page_signed_error_is_a_gateway_error(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    async def not_found(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        return gateway.answer(
            request,
            {"pg_status": "error", "pg_error_code": "11068", "pg_error_description": "Not found"},
        )

    gateway.handler = not_found
    with pytest.raises(TransactionNotFound):
        await client.cards.cvc_page(100200)


CREATED = {"pg_status": "ok", "pg_payment_id": "7", "pg_redirect_url": "https://p.example"}


async def test_cvc_page_signed_ok_xml_is_typed_as_accepted(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    # Seed 002 documents card/pay answering signed XML ok (the page says HTML elsewhere).
    gateway.reply_with({"pg_status": "ok", "pg_payment_id": "100200", "pg_order_id": "12345"})
    page = await client.cards.cvc_page(100200)
    assert page.accepted is True
    assert (page.payment_id, page.order_id) == (100200, "12345")
    assert page.html is None
    assert page.redirect_url is None
    assert len(gateway.requests) == 1


async def test_default_idempotency_key_follows_the_requests_content(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    gateway.reply_with(CREATED)
    order: dict[str, Any] = {"order_id": "O-9", "amount": Decimal("10.00"), "description": "Tea"}
    await client.payments.create(**order)
    await client.payments.create(**order)  # an identical retry
    await client.payments.create(**{**order, "amount": Decimal("12.00")})  # a new request
    await client.mobile.init(**order)  # another operation on the same order
    keys = [gateway.params(index)["pg_idempotency_key"] for index in range(4)]
    assert keys[0] == keys[1]
    assert len({keys[0], keys[2], keys[3]}) == 3
    # Without an order id nothing says two identical requests are one operation.
    await client.payments.create(amount=Decimal("10.00"), description="Tea")
    await client.payments.create(amount=Decimal("10.00"), description="Tea")
    assert "pg_order_id" not in gateway.params(4)
    assert gateway.params(4)["pg_idempotency_key"] != gateway.params(5)["pg_idempotency_key"]


async def test_attempts_of_one_call_share_the_derived_key(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    async def flaky(request: web.Request, params: dict[str, Any]) -> web.StreamResponse:
        if len(gateway.requests) == 1:
            return web.Response(status=503)
        return gateway.answer(request, CREATED)

    gateway.handler = flaky
    await client.payments.create(order_id="O-10", amount=Decimal("1.00"), description="Tea")
    assert len(gateway.requests) == 2
    first, second = gateway.params(0), gateway.params(1)
    assert first["pg_idempotency_key"] == second["pg_idempotency_key"]
    assert first["pg_salt"] != second["pg_salt"]


async def test_documented_init_fields_reach_the_wire(
    client: FreedomPayClient, gateway: ScriptedGateway
) -> None:
    gateway.reply_with(CREATED)
    await client.payments.create(
        order_id="O-20",
        amount="10.00",
        description="Tea",
        site_url="https://shop.example/back",
        success_url_method="POST",
        failure_url_method="GET",
        commission_discount=True,
        commission_discount_fix="150",
        commission_discount_percentage=10,
    )
    sent = gateway.params(0)
    assert sent["pg_site_url"] == "https://shop.example/back"
    assert (sent["pg_success_url_method"], sent["pg_failure_url_method"]) == ("POST", "GET")
    assert sent["pg_commission_discount"] == "1"
    assert sent["pg_commission_discount_fix"] == "150.00"
    assert sent["pg_commission_discount_percentage"] == "10"
    await client.payments.create(
        order_id="O-22",
        amount="10.00",
        description="Tea",
        timeout_after_payment=15,
        three_ds_challenge=True,
        payment_system="EPAYWEBKZT",
        state_url="https://shop.example/wait",
        postpone_payment=False,
        in_frame=True,
    )
    sent = gateway.params(1)
    assert sent["pg_timeout_after_payment"] == "15"
    assert (sent["pg_3ds_challenge"], sent["pg_postpone_payment"]) == ("1", "0")
    assert sent["pg_payment_system"] == "EPAYWEBKZT"
    assert (sent["pg_state_url"], sent["pg_state_url_method"]) == (
        "https://shop.example/wait",
        "GET",
    )
    assert sent["pg_payment_route"] == "frame"
    await client.mobile.init(
        order_id="O-21",
        amount="10.00",
        description="Tea",
        currency="KZT",
        language="en",
        user_id="u1",
        user_email="a@b.example",
        user_ip="10.0.0.1",
        check_url="https://shop.example/check",
        success_url="https://shop.example/ok",
        failure_url="https://shop.example/fail",
        callback_method="POST",
        extra_params=("p1",),
        generate_qr=True,
    )
    sent = gateway.params(2)
    assert sent["pg_payment_method"] == "mobile_commerce"
    for name, value in {
        "pg_currency": "KZT",
        "pg_language": "en",
        "pg_user_id": "u1",
        "pg_user_contact_email": "a@b.example",
        "pg_user_ip": "10.0.0.1",
        "pg_check_url": "https://shop.example/check",
        "pg_success_url": "https://shop.example/ok",
        "pg_failure_url": "https://shop.example/fail",
        "pg_request_method": "POST",
        "pg_param1": "p1",
        "pg_generate_qr": "1",
    }.items():
        assert sent[name] == value, name
    await client.cards.create_payment(
        order_id="O-22",
        amount="10.00",
        description="Tea",
        user_id="u1",
        card_token="tok",
        loyalty_id=3,
        loyalty_amount="5",
        freedom_id="F-1",
    )
    sent = gateway.params(3)
    assert (sent["pg_loyalty_id"], sent["pg_loyalty_amount"], sent["pg_freedom_id"]) == (
        "3",
        "5.00",
        "F-1",
    )
