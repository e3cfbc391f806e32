"""The least work any client must do per signed exchange: the measured floor of issue 15's ratios.

Per call: a fresh salt, the signature (the values in the signer's order, found once per request
shape, MD5), the form body (only values that need it are quoted), then the answer read with one
regular expression (flat documents only, no unescaping), its ``pg_sig`` checked and its
``pg_order_id`` / ``pg_merchant_id`` compared with the request's. No input checks, no typed
result, no error handling, no retries, no logging: nothing a payment client can leave out is in
here, so ``floor / raw`` is what a ratio to raw aiohttp cannot go below on this stack, whatever
the library does.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from urllib.parse import quote_plus

# The cheapest MD5 this interpreter has: the library's (CPython's own, not OpenSSL's).
from freedompay_async.signing import _md5 as md5

_LEAF = re.compile(rb"<(\w+)>([^<]*)</\w+>")


@functools.cache
def _signing_order(names: tuple[str, ...]) -> tuple[int, ...]:
    signed = [f"{name}{i:03d}" for i, name in enumerate(names, 1)]
    return tuple(sorted(range(len(names)), key=signed.__getitem__))


def signed_form(script: str, params: Mapping[str, str], merchant_id: str, key: str) -> bytes:
    names = (*params, "pg_merchant_id", "pg_salt")
    values = [*params.values(), merchant_id, os.urandom(8).hex()]
    text = ";".join([script, *[values[i] for i in _signing_order(names)], key])
    body = "&".join(
        [
            f"{name}={value if value.isalnum() else quote_plus(value)}"
            for name, value in zip(names, values, strict=True)
        ]
    )
    return f"{body}&pg_sig={md5(text.encode()).hexdigest()}".encode()


def checked(script: str, answer: bytes, key: str, order_id: str | None, merchant_id: str) -> bool:
    """Whether ``answer`` is signed with ``key`` and names this order and merchant."""
    leaves = _LEAF.findall(answer)
    fields = dict(leaves)
    named = sorted(
        (b"%s%03d%03d" % (name, i, i), value)
        for i, (name, value) in enumerate(leaves, 1)
        if name != b"pg_sig"
    )
    text = b";".join([script.encode(), *[value for _, value in named], key.encode()])
    return (
        md5(text).hexdigest().encode() == fields.get(b"pg_sig")
        and fields.get(b"pg_merchant_id") == merchant_id.encode()
        and (order_id is None or fields.get(b"pg_order_id") == order_id.encode())
    )
