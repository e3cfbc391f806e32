"""A callback's fields as the gateway sent them (pure, no I/O).

The gateway calls the merchant's URL with GET (fields in the query string) or POST (an
``application/x-www-form-urlencoded`` or ``multipart/form-data`` body), or, on request, with one
field ``pg_xml`` holding ``<request>`` whose children are the fields. Query parameters that were
already part of the merchant's URL arrive too and are signed like the others
(``shared/API-NOTES.md`` section 4), so every source is read, in arrival order: the URL's query
string first, then the body.

An XML document becomes PHP-style pairs: ``<a><b>x</b></a>`` is ``a[b]=x`` and repeated sibling
tags are numbered (``a[b][0]``, ``a[b][1]``), the shape a signer of the same nested parameters
rendered as XML started from. A raw XML body (``application/xml`` / ``text/xml``) is read as if
it were the ``pg_xml`` field, as the gateway's own PHP modules do.
"""

from __future__ import annotations

import email.errors
from collections.abc import Mapping
from email import policy
from email.message import MIMEPart
from email.parser import BytesParser
from urllib.parse import parse_qsl, urlsplit

from .._wire import MAX_BODY_BYTES, parse_xml
from ..errors import MalformedCallback, MalformedResponse

__all__ = ["MAX_DEPTH", "MAX_FIELDS", "content_media_type", "received_fields", "split_url"]

#: More fields than any gateway callback has (PHP itself stops at 1000 by default).
MAX_FIELDS = 10_000
#: Deepest nesting of bracket names or XML elements (PHP's ``max_input_nesting_level``).
MAX_DEPTH = 64

_XML_TYPES = frozenset({"application/xml", "text/xml"})
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_PG_XML = "pg_xml"


class _Refused(Exception):
    """Internal: why the request is not a readable callback (becomes MalformedCallback)."""


def split_url(url: str) -> tuple[str, str]:
    """The path and the raw query string of ``url`` (absolute, or just ``/path?query``)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. a broken IPv6 host
        raise MalformedCallback(f"callback URL cannot be read ({exc})") from None
    return parts.path, parts.query


def content_media_type(content_type: str | None) -> str:
    """``"Multipart/Form-Data; boundary=x"`` -> ``"multipart/form-data"``."""
    return (content_type or "").partition(";")[0].strip().lower()


def received_fields(
    url: str, body: bytes = b"", content_type: str | None = None
) -> list[tuple[str, str]]:
    """Every ``(name, value)`` the gateway sent, in arrival order, as text.

    ``url`` is the URL the request was made to, query string included (host optional);
    ``body`` the raw request body and ``content_type`` its full ``Content-Type`` header. Names
    keep their PHP-style brackets (``pg_receipt_positions[0][name]``); a ``pg_xml`` field is
    replaced by the fields of its document. Raises
    :class:`~freedompay_async.errors.MalformedCallback` (keeping the body) for anything else:
    unknown content types, bodies over ``MAX_BODY_BYTES``, invalid UTF-8, broken multipart,
    malformed XML or XML with a DTD / entity declaration, file uploads, too many fields or too
    deep nesting.
    """
    if len(body) > MAX_BODY_BYTES:
        raise MalformedCallback(
            f"callback body of {len(body)} bytes exceeds {MAX_BODY_BYTES}", raw=body[:4096]
        )
    _, query = split_url(url)
    try:
        pairs = _form_pairs(query, "utf-8") if query else []
        pairs.extend(_body_pairs(body, content_type))
        pairs = _expand_pg_xml(pairs)
        _check(pairs)
    except _Refused as exc:
        raise MalformedCallback(str(exc), raw=body) from None
    return pairs


def _charset(content_type: str | None) -> str:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or "utf-8"
    return "utf-8"


def _body_pairs(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    if not body:
        return []
    media = content_media_type(content_type)
    if media in (_FORM, ""):
        charset = _charset(content_type)
        try:
            text = body.decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise _Refused(f"form body is not valid {charset!r} text") from None
        return _form_pairs(text, charset)
    if media == _MULTIPART:
        return _multipart_pairs(body, content_type or "")
    if media in _XML_TYPES:
        return _xml_pairs(body)
    raise _Refused(f"unsupported callback content type {media!r}")


def _form_pairs(text: str, charset: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding=charset,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeError, LookupError):
        raise _Refused(f"form field is not valid {charset!r} after percent-decoding") from None
    except ValueError:
        raise _Refused(f"more than {MAX_FIELDS} fields") from None


_MULTIPART_ERRORS = (
    email.errors.MessageError,
    UnicodeError,
    LookupError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
)


def _multipart_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    if "\r" in content_type or "\n" in content_type:
        raise _Refused("Content-Type header contains a line break")
    try:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        if message.defects or not message.is_multipart():
            raise _Refused("multipart body does not match its boundary")
        return [_multipart_field(part) for part in message.iter_parts()]
    except _MULTIPART_ERRORS:
        # The email package is lenient, but its header classes can still trip over garbage.
        raise _Refused("multipart body cannot be read") from None


def _multipart_field(part: MIMEPart) -> tuple[str, str]:
    if part.get_content_disposition() != "form-data" or part.is_multipart():
        raise _Refused("multipart part is not a form field")
    if part.get_filename() is not None:
        raise _Refused("callbacks carry no file uploads")
    name = part.get_param("name", header="content-disposition")
    if not isinstance(name, str):
        raise _Refused("multipart form field without a name")
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise _Refused("multipart form field without a value")
    charset = part.get_content_charset() or "utf-8"
    try:
        return name, payload.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise _Refused(f"multipart form field is not valid {charset!r} text") from None


def _expand_pg_xml(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    positions = [index for index, (name, _) in enumerate(pairs) if name == _PG_XML]
    if not positions:
        return pairs
    if len(positions) > 1:
        raise _Refused("more than one pg_xml field")
    (index,) = positions
    return [*pairs[:index], *_xml_pairs(pairs[index][1]), *pairs[index + 1 :]]


def _xml_pairs(xml: bytes | str) -> list[tuple[str, str]]:
    try:
        document = parse_xml(xml)
    except MalformedResponse as exc:
        raise _Refused(f"callback XML refused: {exc}") from None
    pairs: list[tuple[str, str]] = []
    _xml_children(pairs, document.fields, "", 1)
    return pairs


def _xml_children(
    out: list[tuple[str, str]], node: Mapping[str, object], parent: str, depth: int
) -> None:
    for tag, value in node.items():
        _xml_value(out, f"{parent}[{tag}]" if parent else tag, value, depth)


def _xml_value(out: list[tuple[str, str]], name: str, value: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Refused(f"callback XML nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        _xml_children(out, value, name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _xml_value(out, f"{name}[{index}]", item, depth + 1)
    else:
        out.append((name, "" if value is None else str(value)))


def _check(pairs: list[tuple[str, str]]) -> None:
    if len(pairs) > MAX_FIELDS:
        raise _Refused(f"more than {MAX_FIELDS} fields")
    for name, value in pairs:
        if name.count("[") > MAX_DEPTH:
            raise _Refused(f"a field name nests deeper than {MAX_DEPTH} levels")
        try:
            name.encode("utf-8")
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused("a field is not valid Unicode text") from None
