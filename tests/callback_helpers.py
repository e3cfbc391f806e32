"""Building callbacks the way the gateway sends them, for the callback tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape

from freedompay_async import signing
from freedompay_async._wire import encode_form, parse_form

Transport = Literal["query", "form", "multipart", "pg_xml", "xml"]
TRANSPORTS: tuple[Transport, ...] = ("query", "form", "multipart", "pg_xml", "xml")
Pairs = list[tuple[str, str]]

FORM = "application/x-www-form-urlencoded"


def form_pairs(params: Mapping[str, object], parent: str = "") -> Pairs:
    """PHP-style form pairs of nested params, in order (``pg_sig`` kept where it is)."""
    pairs: Pairs = []
    for key, value in params.items():
        name = f"{parent}[{key}]" if parent else str(key)
        if isinstance(value, Mapping):
            pairs.extend(form_pairs(value, name))
        elif isinstance(value, list):
            pairs.extend(form_pairs({str(i): item for i, item in enumerate(value)}, name))
        else:
            assert isinstance(value, str)
            pairs.append((name, value))
    return pairs


def signed(url: str, pairs: Sequence[tuple[str, str]], key: str) -> Pairs:
    """``pairs`` plus a ``pg_sig`` as the reference signer computes it for a callback to
    ``url``: over the URL's own query parameters and the fields, script = last path segment."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    sig = signing.sign(signing.script_name(url), parse_form([*query, *pairs]), key)
    return [*pairs, ("pg_sig", sig)]


def notification(url: str, fields: Mapping[str, str], key: str, *, salt: bool = True) -> Pairs:
    """Documented fields plus ``pg_salt`` and ``pg_sig``."""
    pairs = list(fields.items())
    if salt:
        pairs.append(("pg_salt", secrets.token_hex(8)))
    return signed(url, pairs, key)


def _xml_text(value: str) -> str:
    return escape(value, {"\r": "&#13;"})


def xml_document(pairs: Iterable[tuple[str, str]]) -> str:
    """``<request>`` with one child per flat field (names must be XML names)."""
    children = "".join(f"<{name}>{_xml_text(value)}</{name}>" for name, value in pairs)
    return f'<?xml version="1.0" encoding="utf-8"?><request>{children}</request>'


def multipart(pairs: Iterable[tuple[str, str]]) -> tuple[bytes, str]:
    boundary = "----fp" + secrets.token_hex(12)
    chunks: list[bytes] = []
    for name, value in pairs:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def deliver(
    transport: Transport, url: str, pairs: Sequence[tuple[str, str]]
) -> tuple[str, bytes, str | None]:
    """(url, body, content type) of a request carrying ``pairs`` by ``transport``; the URL's
    own query string stays in front."""
    if transport == "query":
        joined = "&" if urlsplit(url).query else "?"
        return url + joined + encode_form(pairs).decode("ascii"), b"", None
    if transport == "form":
        return url, encode_form(pairs), FORM
    if transport == "multipart":
        body, content_type = multipart(pairs)
        return url, body, content_type
    if transport == "pg_xml":
        return url, encode_form([("pg_xml", xml_document(pairs))]), FORM
    return url, xml_document(pairs).encode(), "application/xml; charset=utf-8"


def callback_url(script: str, query: str = "") -> str:
    url = f"https://shop.example/freedompay/{quote(script)}"
    return f"{url}?{query}" if query else url
