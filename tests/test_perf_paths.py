"""Per-call work that is done once (enum aliases, read timers), and the hot path's shortcuts."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import attrs
import pytest
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from hypothesis import example, given
from hypothesis import strategies as st

from freedompay_async import (
    DEFAULT_TIMEOUT,
    FreedomPayClient,
    Payouts,
    PayoutState,
    RetryPolicy,
    Telemetry,
    signing,
)
from freedompay_async._convert import WordEnum
from freedompay_async._endpoints import endpoint_for_path
from freedompay_async._idempotency import (
    _IDEMPOTENCY_NAMESPACE,
    _uuid5,
    default_idempotency_key,
)
from freedompay_async._requestor import _Gate
from freedompay_async._validation import _luhn_ok
from freedompay_async._wire import (
    POSITION,
    FlatPlan,
    _form_quote,
    _parse_plain,
    encode_form,
    flatten,
    parse_xml,
)
from freedompay_async.errors import MalformedResponse, SignatureMismatch, UnsignedResponse
from freedompay_async.signing import sign_fields, sign_parts, signing_parts
from freedompay_async.testing import Emulator, Fault


def test_word_enum_aliases_are_built_once() -> None:
    built = []

    class Word(WordEnum):
        OK = "ok"
        UNKNOWN = "unknown"

        @classmethod
        def _aliases(cls) -> dict[str, Any]:
            built.append(1)
            return {"fine": cls.OK}

    assert [Word("fine"), Word("new"), Word("fine"), Word(None)] == [
        Word.OK,
        Word.UNKNOWN,
        Word.OK,
        Word.UNKNOWN,
    ]
    assert len(built) == 1


def test_the_default_timeout_bounds_attempts_without_a_read_timer() -> None:
    assert DEFAULT_TIMEOUT.sock_read is None
    assert DEFAULT_TIMEOUT.total == 90
    assert DEFAULT_TIMEOUT.connect == 10  # "certainly not sent" stays bounded


# The per-call hot path's shortcuts give exactly what the plain way gives.

_any_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@given(_any_text | st.text("aZ0_.-~ :/?=&+%#@é", max_size=30))
def test_form_quoting_is_quote_plus(text: str) -> None:
    assert _form_quote(text) == quote_plus(text)


def test_form_bodies_are_pinned() -> None:
    fields = [("pg_post_link", "https://m.example/a b?x=1&y=é~"), ("a[0][b]", "1")]
    assert encode_form(fields) == (
        b"pg_post_link=https%3A%2F%2Fm.example%2Fa+b%3Fx%3D1%26y%3D%C3%A9~&a%5B0%5D%5Bb%5D=1"
    )


@given(
    st.dictionaries(st.from_regex(r"pg_[a-z]{1,8}", fullmatch=True), _any_text, max_size=8),
    st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
)
def test_a_salt_slot_signs_as_the_whole(params: dict[str, str], salt: str) -> None:
    named = [(f"{name}{i:03d}", value) for i, (name, value) in enumerate(params.items(), 1)]
    slot = f"pg_salt{len(named) + 1:03d}"
    head, tail = signing_parts("p2p2nonreg", [*named, (slot, "")], slot, "key")
    assert sign_parts(head, salt, tail) == sign_fields("p2p2nonreg", [*named, (slot, salt)], "key")


@given(
    st.dictionaries(st.from_regex(r"[a-z_\[\]0-9]{1,12}", fullmatch=True), _any_text, max_size=8),
    st.booleans(),
)
# The position suffix takes part in the order: pg_x10 (6th, "pg_x10006") sorts before pg_x1 (5th).
@example({"a": "1", "b": "2", "c": "3", "d": "4", "pg_x1": "5", "pg_x10": "6"}, False)
def test_a_flat_plan_signs_and_encodes_what_flatten_gives(
    params: dict[str, str], with_key: bool
) -> None:
    tail = [("pg_merchant_id", "552893"), *([("pg_idempotency_key", "k/1")] if with_key else [])]
    plan = FlatPlan.of(tuple(params), tuple(name for name, _ in tail))
    assert plan is not None
    values = [*params.values(), *(value for _, value in tail)]
    fields = flatten(params)
    named = [(sig_name, value) for sig_name, _, value in fields]
    named += [(name + POSITION[len(params) + i], value) for i, (name, value) in enumerate(tail, 1)]
    slot = "pg_salt" + POSITION[len(named) + 1]
    assert plan.signing_parts("p2p2nonreg", values, "key") == signing_parts(
        "p2p2nonreg", [*named, (slot, "")], slot, "key"
    )
    assert plan.form(values) == encode_form([*((form, value) for _, form, value in fields), *tail])


def test_a_pg_sig_among_the_fields_takes_the_general_path() -> None:
    # flatten skips it but counts its position; the plan does not model that.
    assert FlatPlan.of(("pg_order_id", "pg_sig"), ("pg_merchant_id",)) is None


@pytest.mark.parametrize(
    ("path", "key"), [("g2g/p2p2nonreg", "payout-key"), ("init_payment.php", "payment-key")]
)
def test_each_attempts_body_is_signed_over_exactly_what_it_sends(path: str, key: str) -> None:
    endpoint = endpoint_for_path(path)
    assert endpoint is not None
    client = FreedomPayClient("552893", "payment-key", payout_secret_key="payout-key")
    call = client._requestor.prepare(
        endpoint,
        {"pg_order_id": "O-1", "pg_amount": "1.00", "pg_description": "Зарплата & bonus"},
    )
    salts = ("0123456789abcdef", "fedcba9876543210")
    bodies = [call.signed_body(salt) for salt in salts]
    ours = ["pg_merchant_id", "pg_idempotency_key"] if call.idempotency_key else ["pg_merchant_id"]
    for body, salt in zip(bodies, salts, strict=True):
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        assert list(fields) == [
            "pg_order_id",
            "pg_amount",
            "pg_description",
            *ours,
            "pg_salt",
            "pg_sig",
        ]
        assert (fields["pg_merchant_id"], fields["pg_salt"]) == ("552893", salt)
        assert fields.get("pg_idempotency_key") == call.idempotency_key
        assert signing.verify(endpoint.script, fields, key)
    assert bodies[0] != bodies[1]


def test_calls_without_fields_share_all_but_the_salt_and_keep_their_key() -> None:
    client = FreedomPayClient("552893", "payment-key", payout_secret_key="payout-key")
    endpoint = endpoint_for_path("g2g/balance_status")
    assert endpoint is not None
    assert endpoint.key == "payout"
    first, second = (client._requestor.prepare(endpoint, {}) for _ in range(2))
    assert second.parts == first.parts
    other = client._requestor.prepare(attrs.evolve(endpoint, key="payment"), {})
    bodies = set()
    for call, key in ((first, "payout-key"), (second, "payout-key"), (other, "payment-key")):
        body = call.signed_body(signing.new_salt())
        assert signing.verify("balance_status", dict(parse_qsl(body.decode())), key)
        bodies.add(body)
    assert len(bodies) == 3


@given(_any_text)
def test_idempotency_uuids_are_uuid5(name: str) -> None:
    assert _uuid5(name) == str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, name))


def test_default_idempotency_keys_are_pinned() -> None:
    # Journals keep these across versions: a resumed batch must derive the same key.
    fields = [("pg_order_id", "O-1"), ("pg_amount", "1.00"), ("pg_description", "Зарплата & bonus")]
    assert default_idempotency_key("552893", "p2p2nonreg", [*fields, ("pg_salt", "x")]) == (
        "08b37477-2164-5d7c-b72e-ffbc15eddd4f"
    )


@pytest.mark.parametrize("word", ["ok", "success", "error", "process", "unknown", "new", ""])
def test_word_lookup_is_the_enum_call(word: str) -> None:
    assert PayoutState.of(word) is PayoutState(word)


def _luhn_reference(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


@given(st.from_regex(r"[0-9]{1,20}", fullmatch=True))
def test_luhn_is_the_reference(digits: str) -> None:
    assert _luhn_ok(digits) is _luhn_reference(digits)


def test_operations_lose_their_telemetry_wrapper_only_when_nothing_is_recorded() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    quiet = FreedomPayClient("552893", "key", telemetry=Telemetry(enabled=False))
    traced = FreedomPayClient(
        "552893", "key", telemetry=Telemetry(tracer_provider=TracerProvider())
    )
    for name in ("to_card", "status", "wait", "balance"):
        wrapper = getattr(Payouts, name)
        assert getattr(quiet.payouts, name).__func__ is wrapper.__wrapped__
        assert getattr(traced.payouts, name).__func__ is wrapper


# The in-flight gate: the pool's size bounds attempts past it, waiters go in order, and a
# cancelled waiter neither takes nor loses a place.


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _places(gate: _Gate) -> int:
    """How many callers can enter now (and leaves them all again)."""
    entered = 0
    while gate.enter():
        entered += 1
    for _ in range(entered):
        gate.leave()
    return entered


@pytest.mark.anyio
async def test_the_gate_admits_its_size_and_queues_the_rest_in_order() -> None:
    gate = _Gate(2)
    order: list[int] = []

    async def hold(number: int, release: asyncio.Event) -> None:
        if not gate.enter():
            await gate.wait()
        order.append(number)
        try:
            await release.wait()
        finally:
            gate.leave()

    releases = [asyncio.Event() for _ in range(5)]
    tasks = [asyncio.ensure_future(hold(i, releases[i])) for i in range(5)]
    await _settle()
    assert order == [0, 1]
    releases[1].set()
    await _settle()
    assert order == [0, 1, 2]
    for release in releases:
        release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert _places(gate) == 2


@pytest.mark.anyio
async def test_a_cancelled_waiter_neither_takes_nor_loses_a_place() -> None:
    gate = _Gate(1)
    assert gate.enter()
    waiting = asyncio.ensure_future(gate.wait())
    behind = asyncio.ensure_future(gate.wait())
    await _settle()
    waiting.cancel()  # still queued
    await _settle()
    gate.leave()  # the place goes to the one behind
    await _settle()
    assert waiting.cancelled()
    assert behind.done()
    assert _places(gate) == 0
    gate.leave()
    assert _places(gate) == 1


@pytest.mark.anyio
async def test_a_waiter_cancelled_after_being_handed_a_place_passes_it_on() -> None:
    gate = _Gate(1)
    assert gate.enter()
    first = asyncio.ensure_future(gate.wait())
    second = asyncio.ensure_future(gate.wait())
    await _settle()
    gate.leave()  # hands the place to first...
    first.cancel()  # ...which is cancelled before it resumes
    await _settle()
    assert first.cancelled()
    assert second.done()
    assert _places(gate) == 0  # second holds it
    gate.leave()
    assert _places(gate) == 1


@pytest.mark.anyio
async def test_a_waiter_cancelled_and_dropped_by_leave_is_not_counted_twice() -> None:
    gate = _Gate(1)
    assert gate.enter()
    waiter = asyncio.ensure_future(gate.wait())
    await _settle()
    waiter.cancel()  # its future is cancelled; before its except clause runs...
    gate.leave()  # ...leave() drops it from the queue
    await _settle()
    assert waiter.cancelled()
    assert _places(gate) == 1


@pytest.mark.anyio
async def test_attempts_in_flight_stay_within_the_connection_limit(
    freedompay_emulator: Emulator,
) -> None:
    in_flight, most = 0, 0

    async def count(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.01)
            return await handler(request)
        finally:
            in_flight -= 1

    async with freedompay_emulator.client(connection_limit=3, middlewares=(count,)) as client:
        await asyncio.gather(*(client.payouts.balance() for _ in range(20)))
    assert most == 3


@pytest.mark.parametrize("character", ["\ufffe", "\uffff"])
def test_plain_answers_with_characters_xml_refuses_are_left_to_the_parser(character: str) -> None:
    raw = f"<response><pg_status>ok{character}</pg_status></response>".encode()
    assert _parse_plain(raw) is None
    with pytest.raises(MalformedResponse):
        parse_xml(raw)


@pytest.mark.anyio
async def test_answers_of_a_remembered_form_are_still_verified_and_read_whole(
    freedompay_emulator: Emulator,
) -> None:
    """A path's answers are read by the form of its last one: an answer of that form signed
    with the wrong key or not at all is still refused, and one with other values reads them."""
    emulator, balance = freedompay_emulator, "g2g/balance_status"
    async with emulator.client(retry=RetryPolicy(attempts=1)) as client:
        first = await client.payouts.balance()
        assert list(client._requestor._shapes) == [balance]  # the form is remembered
        emulator.faults.add(Fault.bad_signature(endpoint=balance, times=1))
        with pytest.raises(SignatureMismatch):
            await client.payouts.balance()
        emulator.faults.add(Fault.unsigned(endpoint=balance, times=1))
        with pytest.raises(UnsignedResponse):
            await client.payouts.balance()
        emulator.faults.add(Fault.answer({"pg_balance": "12.34"}, endpoint=balance, times=1))
        assert (await client.payouts.balance()).amount == Decimal("12.34")
        assert (await client.payouts.balance()).amount == first.amount
