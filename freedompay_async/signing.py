"""The gateway's signature (``pg_sig``), exactly as its reference signer computes it.

Pure functions, no I/O. The algorithm (``shared/API-NOTES.md`` section 2):

1. flatten the parameters: each name gets a 3-digit 1-based position suffix per level, nested
   mappings and lists recurse (list items are keyed by index), ``pg_sig`` is skipped but counted;
2. sort the flat names by plain string order (the suffix takes part: ``pg_x10006 < pg_x1005``);
3. join ``script name; values...; secret key`` with ``;`` and take the lowercase hex MD5 of the
   UTF-8 bytes. Empty values stay in.

Script name = last segment of the URL path (``/g2g/payout_status2`` -> ``payout_status2``).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from ._masking import mask_card_numbers
from ._wire import (
    Params,
    XmlDocument,
    flatten,
    parse_xml,
    render_xml,
    signer_fields,
    signer_values,
    xml_leaves,
)

__all__ = [
    "new_salt",
    "script_name",
    "sign",
    "sign_fields",
    "sign_xml",
    "signing_string",
    "verify",
    "verify_document",
    "verify_xml",
]


def _md5_constructor() -> Callable[[bytes], hashlib._Hash]:
    """CPython's own MD5 where the interpreter has it: ``hashlib.md5`` is OpenSSL's, which sets
    up an EVP context per digest and so, for the short strings the gateway signs, costs half as
    much again (the same digest either way)."""
    try:
        constructor: Callable[[bytes], hashlib._Hash] = importlib.import_module("_md5").md5
    except (ImportError, AttributeError):  # an interpreter built without it
        return hashlib.md5
    return constructor


_md5 = _md5_constructor()


def script_name(url: str) -> str:
    """Last segment of the URL's path, without query string; empty when the path ends in ``/``."""
    return urlsplit(url).path.rpartition("/")[2]


def _joined(script: str, values: Iterable[str], secret_key: str) -> str:
    """The signing string of values already in the signer's order."""
    return ";".join((script, *values, secret_key))


def _digest(text: str) -> str:
    return _md5(text.encode("utf-8")).hexdigest()


def sign_fields(script: str, named_values: Iterable[tuple[str, str]], secret_key: str) -> str:
    """``pg_sig`` of already flattened (signature name, value) pairs."""
    return _digest(_joined(script, signer_values(named_values), secret_key))


def signing_parts(
    script: str, named_values: Iterable[tuple[str, str]], slot: str, secret_key: str
) -> tuple[str, str]:
    """The signing string of ``named_values`` around the value named ``slot`` (left out):
    ``sign_fields(...)`` is the digest of ``head + value + tail``. Lets a request be signed
    for each new salt without sorting and joining its other fields again."""
    ordered = sorted(named_values)
    values = [value for _, value in ordered]
    index = [name for name, _ in ordered].index(slot)
    return ";".join((script, *values[:index], "")), ";".join(("", *values[index + 1 :], secret_key))


def sign_parts(head: str, value: str, tail: str) -> str:
    """``pg_sig`` from :func:`signing_parts`' head and tail and the slot's value."""
    return _digest(head + value + tail)


def sign(script: str, params: Params, secret_key: str) -> str:
    """``pg_sig`` of ``params`` sent to the script ``script`` (a ``pg_sig`` in params is ignored).

    Values may be ``str``, ``int`` or ``Decimal`` (nested mappings / lists of them); ``float`` and
    ``bool`` raise :class:`~freedompay_async.errors.UnsupportedValueType`.
    """
    return sign_fields(script, ((sig, value) for sig, _, value in flatten(params)), secret_key)


def _same(expected: str, received: object) -> bool:
    # (compare_digest takes ASCII text as it is; a hex digest never equals other text.)
    if not isinstance(received, str) or not received.isascii():
        return False
    return hmac.compare_digest(expected, received)


def verify(script: str, params: Mapping[str, object], secret_key: str) -> bool:
    """Whether ``params["pg_sig"]`` signs the other ``params`` for ``script`` (constant time)."""
    return _same(sign(script, params, secret_key), params.get("pg_sig"))


def new_salt() -> str:
    """A fresh random ``pg_salt`` (16 hex characters)."""
    return os.urandom(8).hex()  # what secrets.token_hex(8) does, without its two layers


def verify_document(script: str, document: XmlDocument, secret_key: str) -> bool:
    """Whether a decoded XML answer carries a valid ``pg_sig`` for ``script``."""
    values = signer_values(document.signed_fields)
    return verify_signed(script, values, document.signature, secret_key)


def verify_signed(
    script: str, values: Iterable[str], signature: str | None, secret_key: str
) -> bool:
    """Whether ``signature`` signs an answer whose signed values, in the signer's order, are
    ``values`` (as ``decode_answer`` gives them)."""
    return _same(_digest(_joined(script, values, secret_key)), signature)


def verify_xml(script: str, xml: bytes | str, secret_key: str) -> bool:
    """Whether a signed XML answer (any root element) verifies for ``script`` and ``secret_key``.

    Malformed XML raises :class:`~freedompay_async.errors.MalformedResponse`.
    """
    return verify_document(script, parse_xml(xml), secret_key)


def sign_xml(script: str, fields: Params, secret_key: str, *, root: str = "response") -> bytes:
    """A signed XML answer, as the gateway (or a merchant answering a callback) sends it.

    ``pg_salt`` is added when ``fields`` has none; ``pg_sig`` is appended last. Nested mappings
    become nested elements and list values repeated tags.
    """
    body = {key: value for key, value in fields.items() if key != "pg_sig"}
    body.setdefault("pg_salt", new_salt())
    body["pg_sig"] = sign_fields(script, signer_fields(xml_leaves(body)), secret_key)
    return render_xml(root, body)


def signing_string(script: str, params: Params, secret_key: str, *, mask_cards: bool = True) -> str:
    """The exact string that is MD5-hashed, with the secret key replaced by ``***``.

    For debugging "bad signature" answers: compare it with what the other side signed. Card
    numbers among the values are masked too unless ``mask_cards=False``.
    """
    named = ((sig, value) for sig, _, value in flatten(params))
    text = _joined(script, signer_values(named), "***")
    if not secret_key:
        text = text[:-3]
    return mask_card_numbers(text) if mask_cards else text
