"""The gateway's wire formats (pure, no I/O).

* Requests are form fields. Nested parameters travel PHP-style (``pg_receipt_positions[0][name]``)
  and every value is sent exactly as the string that was signed.
* Answers (and some callbacks) are XML with any root element name: flat ones are read by expat
  directly, nested or repeated ones by xmltodict, with the same result.

:func:`flatten` is the single walk over request parameters: it yields, for each leaf, the flat
name the signature sorts by, the name the field travels under, and the value as text. Signing and
form encoding both consume it, so what is signed is by construction what is sent.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias, TypeVar
from urllib.parse import quote_plus
from xml.parsers import expat
from xml.parsers.expat import ExpatError

import attrs

from .errors import MalformedResponse, UnsupportedValueType, ValidationError

__all__ = [
    "MAX_BODY_BYTES",
    "POSITION",
    "FlatField",
    "FlatShape",
    "Params",
    "XmlDocument",
    "decode_answer",
    "encode_form",
    "flatten",
    "parse_form",
    "parse_xml",
    "render_xml",
    "signature_of",
    "signer_fields",
    "signer_values",
    "to_text",
    "xml_leaves",
]

#: Request parameters: ``str`` / ``int`` / ``Decimal`` leaves, nested in mappings and lists.
#: Typed loosely on purpose (dict literals mixing types must be accepted); :func:`flatten`
#: checks every value at run time.
Params: TypeAlias = Mapping[str, object]

#: (signature name, form name, text value)
FlatField: TypeAlias = tuple[str, str, str]

#: Gateway answers are a few hundred bytes; anything near this is not a gateway answer.
MAX_BODY_BYTES = 1 << 20

_SIG = "pg_sig"
V = TypeVar("V")


class _Positions(dict[int, str]):
    def __missing__(self, position: int) -> str:
        return f"{position:03d}"


#: The reference signer's position suffix, 1-based, at least 3 digits: ``POSITION[7] == "007"``
#: (a lookup: formatting an int with ``:03d`` costs four times as much).
POSITION: Mapping[int, str] = _Positions((position, f"{position:03d}") for position in range(1000))


def to_text(value: object, field: str) -> str:
    """The exact text a scalar value travels (and is signed) as.

    ``str`` as is, ``int`` (and int enums) in decimal, ``Decimal`` in plain notation
    (``Decimal('1E+2')`` -> ``100``). ``float`` and ``bool`` are refused: binary floats lose
    money and ``True`` has no single spelling the gateway agrees on.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise UnsupportedValueType(field, "bool is not accepted; send '1'/'0' explicitly")
    if isinstance(value, int):
        # By value: str() of an int-subclass enum is its name on Python 3.10, its value on 3.12.
        return int.__repr__(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(field, "amount must be a finite Decimal")
        return format(value, "f")
    if isinstance(value, float):
        raise UnsupportedValueType(
            field, "float is not accepted: binary floats lose money, use decimal.Decimal"
        )
    raise UnsupportedValueType(
        field, f"{type(value).__name__} is not accepted; use str, int or decimal.Decimal"
    )


def flatten(params: Params) -> list[FlatField]:
    """Walk ``params`` in insertion order the way the gateway's reference signer does.

    Each entry's signature name is ``parent + key + position`` (1-based, 3 digits, per level);
    list items use their index as key. ``pg_sig`` is skipped at every level but keeps its
    position.
    """
    out: list[FlatField] = []
    _flatten_into(out, params.items(), "", "")
    return out


def _flatten_into(
    out: list[FlatField],
    items: Iterable[tuple[Any, Any]],
    sig_parent: str,
    form_parent: str,
) -> None:
    for position, (key, value) in enumerate(items, 1):
        if key == _SIG:
            continue
        key = str(key)
        sig_name = f"{sig_parent}{key}{POSITION[position]}"
        form_name = f"{form_parent}[{key}]" if form_parent else key
        if isinstance(value, str):
            out.append((sig_name, form_name, value))
        elif isinstance(value, Mapping):
            _flatten_into(out, value.items(), sig_name, form_name)
        elif isinstance(value, (list, tuple)):
            _flatten_into(out, enumerate(value), sig_name, form_name)
        else:
            out.append((sig_name, form_name, to_text(value, form_name)))


# Characters quote_plus leaves alone; most values (ids, amounts, hex) consist only of these.
_FORM_SAFE = re.compile(r"[A-Za-z0-9_.\-~]*").fullmatch
_FORM_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-~]").sub
_FORM_QUOTED = re.compile(r"[A-Za-z0-9_.\-~%+]*").fullmatch
# quote_plus's spelling of every other ASCII character (it walks the text byte by byte in Python).
_FORM_ESCAPES = {chr(code): "+" if code == 32 else f"%{code:02X}" for code in range(128)}


def _form_escape(match: re.Match[str]) -> str:
    return _FORM_ESCAPES[match[0]]


def _form_quote(text: str) -> str:
    """``quote_plus(text)``, faster for the usual (ASCII) values."""
    if not text.isascii():
        return quote_plus(text)
    # Letters and digits, or an identifier (pg_ names): safe, known without a regex.
    if text.isalnum() or text.isidentifier() or _FORM_SAFE(text):
        return text
    # URLs and sentences: a few replacements, else one per character.
    quoted = (
        text.replace("%", "%25")
        .replace(":", "%3A")
        .replace("/", "%2F")
        .replace("?", "%3F")
        .replace("=", "%3D")
        .replace("&", "%26")
        .replace("+", "%2B")
        .replace(" ", "+")
    )
    return quoted if _FORM_QUOTED(quoted) else _FORM_UNSAFE(_form_escape, text)


def encode_form(fields: Iterable[tuple[str, str]]) -> bytes:
    """``application/x-www-form-urlencoded`` body of (form name, value) pairs, in order."""
    return "&".join([f"{_form_quote(name)}={_form_quote(value)}" for name, value in fields]).encode(
        "ascii"
    )


class FlatPlan:
    """The value-independent part of a flat request: text values under the same names in the
    same order (what every typed call sends), then the client's own fields, then ``pg_salt``.

    Which values the signature string puts before and after the salt, and each field's quoted
    ``name=``, are found once per shape: a call then only quotes and joins its values, with
    exactly the result of :func:`flatten`, ``signing_parts`` and :func:`encode_form`.
    """

    __slots__ = ("after_salt", "before_salt", "form_prefixes")

    #: Shapes seen so far, by (caller's names, client's names); bounded, as callers of
    #: ``client.request`` choose names.
    _known: ClassVar[dict[tuple[tuple[str, ...], tuple[str, ...]], FlatPlan | None]] = {}
    _MAX_KNOWN: ClassVar[int] = 1024

    def __init__(self, names: tuple[str, ...], tail: tuple[str, ...]) -> None:
        every = (*names, *tail, "pg_salt")
        signed = [name + POSITION[position] for position, name in enumerate(every, 1)]
        order = sorted(range(len(every)), key=signed.__getitem__)
        salt_at = order.index(len(every) - 1)
        self.before_salt = tuple(order[:salt_at])
        self.after_salt = tuple(order[salt_at + 1 :])
        self.form_prefixes = tuple(_form_quote(name) + "=" for name in (*names, *tail))

    @classmethod
    def of(cls, names: tuple[str, ...], tail: tuple[str, ...]) -> FlatPlan | None:
        """The plan of this shape; None where names are not plain (``pg_sig``, not ``str``)."""
        key = (names, tail)
        try:
            return cls._known[key]
        except KeyError:
            pass
        plain = _SIG not in names and all(type(name) is str for name in names)
        plan = cls(names, tail) if plain else None
        if len(cls._known) < cls._MAX_KNOWN:
            cls._known[key] = plan
        return plan

    def signing_parts(self, script: str, values: list[str], secret: str) -> tuple[str, str]:
        """``signing_parts`` of ``values`` (the caller's, then the client's; no salt)."""
        value = values.__getitem__
        return (
            ";".join([script, *map(value, self.before_salt), ""]),
            ";".join(["", *map(value, self.after_salt), secret]),
        )

    def form(self, values: list[str]) -> bytes:
        """:func:`encode_form` of the fields, salt and signature left for each attempt."""
        pairs = zip(self.form_prefixes, values, strict=True)
        return "&".join([prefix + _form_quote(value) for prefix, value in pairs]).encode("ascii")


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Rebuild nested parameters from PHP-style field names, keeping first-seen order.

    ``a[0][name]=x`` becomes ``{"a": {"0": {"name": "x"}}}`` - the shape the gateway's PHP sees,
    so signing the result reproduces the signature of the original nested parameters.
    ``a[]`` appends with the next integer key. A later scalar replaces an earlier one, as PHP does.
    """
    result: dict[str, Any] = {}
    for name, value in pairs:
        head, sep, rest = name.partition("[")
        if not sep or not rest.endswith("]") or not head:
            result[name] = value
            continue
        keys = [head, *rest[:-1].split("][")]
        node = result
        for depth, key in enumerate(keys):
            if key == "":
                key = str(sum(1 for k in node if k.isdigit()))
            if depth == len(keys) - 1:
                node[key] = value
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = node[key] = {}
                node = child
    return result


@attrs.frozen(slots=True)
class XmlDocument:
    """A decoded XML answer.

    ``fields`` is the root's content as xmltodict builds it (nested dicts, repeated tags as lists,
    empty leaves as ``""``). ``signed_fields`` lists every leaf but ``pg_sig`` in document order
    under the name the reference signer signs it by (:func:`signer_fields`), ready for
    :func:`freedompay_async.signing.verify_document`.
    """

    root: str
    fields: dict[str, Any]
    signed_fields: tuple[tuple[str, str], ...]
    raw: bytes

    @property
    def signature(self) -> str | None:
        """The top-level ``pg_sig`` (the first one, as the reference reads it)."""
        return signature_of(self.fields)


def signature_of(fields: Mapping[str, Any]) -> str | None:
    """The top-level ``pg_sig`` of an answer's fields (the first one, as the reference reads it)."""
    sig = fields.get(_SIG)
    if isinstance(sig, list):
        sig = sig[0]
    return sig if isinstance(sig, str) else None


class _LeafCollector:
    """xmltodict postprocessor: normalises values and records leaves in document order.

    xmltodict calls it once per element, when the element closes. Siblings close in document
    order and an element's ancestors are still open, so each ancestor's position is the number
    of its already-closed siblings plus one.
    """

    __slots__ = ("counters", "leaves")

    def __init__(self) -> None:
        self.leaves: list[tuple[str, str]] = []
        self.counters = [0, 0, 0, 0]

    def __call__(self, path: list[tuple[str, Any]], key: str, value: Any) -> tuple[str, Any] | None:
        if key == "#text":  # text around child elements: the reference signer ignores it
            return None
        if value is None:
            value = ""
        depth = len(path)
        if depth == 1:
            return key, value
        counters = self.counters
        if len(counters) <= depth + 1:
            counters.extend([0] * (depth + 2 - len(counters)))
        position = counters[depth] = counters[depth] + 1
        counters[depth + 1] = 0
        if key == _SIG or isinstance(value, dict):
            return key, value
        if depth == 2:  # a direct child of the root: the usual flat answer
            self.leaves.append((key + POSITION[position], value))
        else:
            prefix = "".join(
                f"{path[level][0]}{POSITION[counters[level + 1] + 1]}"
                for level in range(1, depth - 1)
            )
            self.leaves.append((f"{prefix}{key}{POSITION[position]}", value))
        return key, value


def signer_fields(leaves: Sequence[tuple[str, V]]) -> list[tuple[str, V]]:
    """XML leaves (named ``tag`` + position path) as the reference signer signs them.

    It flattens the XML into ``tag001`` names and then runs that flat array through its
    parameter flattening again, which appends a second position suffix; PHP's "first one wins"
    for a repeated flat name included.
    """
    unique = dict(leaves)
    if len(unique) != len(leaves):  # a repeated name: its first value counts
        unique = {}
        for name, value in leaves:
            unique.setdefault(name, value)
    return [
        (name + POSITION[position], value)
        for position, (name, value) in enumerate(unique.items(), 1)
    ]


def signer_values(signed_fields: Iterable[tuple[str, str]]) -> list[str]:
    """The values of signed fields in the order the signature joins them (by name)."""
    return [value for _, value in sorted(signed_fields)]


def _flat_signed_fields(fields: Mapping[str, V]) -> list[tuple[str, V]]:
    """:func:`signer_fields` of a flat answer's fields (distinct leaves, ``pg_sig`` skipped)."""
    leaves = [
        (name + POSITION[position], value)
        for position, (name, value) in enumerate(fields.items(), 1)
        if name != _SIG
    ]
    return signer_fields(leaves)


class _NotFlat(Exception):
    """The document nests or repeats elements: left to xmltodict."""


def _forbid_entities(*_: object) -> None:
    raise ValueError("entities are disabled")


# The usual answer: an optional UTF-8 declaration, a root holding distinct leaves of plain text
# (no markup, entities, CR or characters XML refuses: nothing a parser would change).
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_PLAIN = r"[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*"
_SPACE = r"[ \t\n]*"
_DECLARATION = r'(?:<\?xml version="1\.0"(?: encoding="(?:utf|UTF)-8")?\?>)?'
# Longer documents are left to expat.
_MAX_PLAIN_LEAVES = 64
# By number of leaves: the plain document with exactly that many, each leaf's tag and text a
# group (one match gives them all: a repeated group would keep only its last).
_PLAIN_DOCUMENTS: dict[int, Callable[[str], re.Match[str] | None]] = {}


def _plain_pattern(
    root: tuple[str, str], leaves: Iterable[tuple[str, str]]
) -> Callable[[str], re.Match[str] | None]:
    """The plain document whose root and leaves have these (opening, closing) tag names, each
    leaf's text a group: the one definition both plain paths match with."""
    body = "".join(f"{_SPACE}<{opening}>({_PLAIN})</{closing}>" for opening, closing in leaves)
    return re.compile(
        f"{_DECLARATION}{_SPACE}<{root[0]}>{body}{_SPACE}</{root[1]}>{_SPACE}"
    ).fullmatch


def _plain_document(leaves: int) -> Callable[[str], re.Match[str] | None]:
    match = _PLAIN_DOCUMENTS.get(leaves)
    if match is None:
        # The groups: the root, then each leaf's tag and text (tags named: \\100 is no group).
        match = _PLAIN_DOCUMENTS[leaves] = _plain_pattern(
            (f"(?P<root>{_NAME})", "(?P=root)"),
            ((f"(?P<t{n}>{_NAME})", f"(?P=t{n})") for n in range(leaves)),
        )
    return match


class FlatShape:
    """The form of a flat answer: its root and its leaves' names, in document order.

    An endpoint answers in a few forms. A plain document (see :func:`_plain_document`) of a
    known form is read by one match against its literal names (no name classes, back-references
    or tag count), and the signed values of any answer of this form come out in the signer's
    order by one getter. What the match accepts is what the general path accepts with these
    names, read alike.
    """

    __slots__ = ("_fullmatch", "names", "root", "signed_values")

    #: Forms seen so far; bounded, as the gateway chooses the names.
    _known: ClassVar[dict[tuple[str, tuple[str, ...]], FlatShape]] = {}
    _MAX_KNOWN: ClassVar[int] = 1024

    def __init__(self, root: str, names: tuple[str, ...]) -> None:
        self.root = root
        self.names = names
        ordered = [
            name for _, name in sorted(_flat_signed_fields(dict(zip(names, names, strict=True))))
        ]
        #: The signed values of a flat answer of this form, from its fields, in the signer's order.
        self.signed_values: Callable[[Mapping[str, str]], Sequence[str]] = (
            operator.itemgetter(*ordered)  # (a tuple of them)
            if len(ordered) > 1
            else lambda fields: [fields[name] for name in ordered]
        )
        self._fullmatch: Callable[[str], re.Match[str] | None] | None = None  # on first read

    @classmethod
    def of(cls, root: str, names: tuple[str, ...]) -> FlatShape:
        key = (root, names)
        shape = cls._known.get(key)
        if shape is None:
            shape = cls(root, names)
            if len(cls._known) < cls._MAX_KNOWN:
                cls._known[key] = shape
        return shape

    def read(self, raw: bytes) -> dict[str, Any] | None:
        """The fields of ``raw`` if it is a plain document of this form, else None."""
        fullmatch = self._fullmatch
        if fullmatch is None:
            root, leaves = re.escape(self.root), [re.escape(name) for name in self.names]
            fullmatch = self._fullmatch = _plain_pattern(
                (root, root), ((leaf, leaf) for leaf in leaves)
            )
        try:
            match = fullmatch(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        if match is None:
            return None
        return dict(zip(self.names, match.groups(), strict=True))


def _parse_plain(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """:func:`_parse_flat`'s result for a plain document (see ``_plain_document``), else None."""
    # Each leaf has two tags, the root two, the declaration one.
    tags = raw.count(b"<") - 2 - raw.startswith(b"<?")
    if tags < 0 or tags & 1 or tags > 2 * _MAX_PLAIN_LEAVES:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = _plain_document(tags >> 1)(text)
    if match is None:
        return None
    found = match.groups()
    fields: dict[str, Any] = dict(zip(found[1::2], found[2::2], strict=True))
    if len(fields) * 2 != tags:
        return None  # a repeated tag
    return found[0], fields


def _parse_flat(raw: bytes) -> tuple[str, dict[str, Any]]:
    """Root name and fields of a flat answer (the usual one), on expat alone.

    Gives exactly :func:`_parse_nested`'s root and fields for a root whose children are all
    distinct leaves; raises :class:`_NotFlat` for anything else (nested or repeated elements).
    """
    root = ""
    fields: dict[str, Any] = {}
    text: list[str] = []
    depth = 0

    def start(name: str, _attributes: object) -> None:
        nonlocal depth, root
        depth += 1
        if depth == 2:
            text.clear()
        elif depth == 1:
            root = name
        else:
            raise _NotFlat

    def end(name: str) -> None:
        nonlocal depth
        if depth == 2:
            if name in fields:
                raise _NotFlat
            fields[name] = "".join(text)
        depth -= 1

    def characters(data: str) -> None:
        if depth == 2:
            text.append(data)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.EntityDeclHandler = _forbid_entities
    parser.Parse(raw, True)
    return root, fields


def _parse_nested(raw: bytes) -> tuple[str, dict[str, Any], list[tuple[str, str]]]:
    """Root name, fields and signed fields of any answer, with xmltodict's structure."""
    import xmltodict  # on first use: it imports urllib.request (~40 ms)

    collector = _LeafCollector()
    document = xmltodict.parse(
        raw,
        xml_attribs=False,
        strip_whitespace=False,
        postprocessor=collector,
        disable_entities=True,
    )
    if not isinstance(document, dict) or len(document) != 1:
        raise ValueError("answer has no single root element")
    ((root, content),) = document.items()
    return root, content if isinstance(content, dict) else {}, signer_fields(collector.leaves)


def _parse(raw: bytes, max_bytes: int) -> tuple[str, dict[str, Any], list[tuple[str, str]] | None]:
    """Root name, fields and signed fields of an answer; None for the latter where the answer
    is flat (they follow from the fields alone)."""
    if len(raw) > max_bytes:
        raise MalformedResponse(f"answer of {len(raw)} bytes exceeds {max_bytes}", raw=raw[:4096])
    try:
        plain = _parse_plain(raw)  # a plain document holds no "<!"
        if plain is not None:
            root, fields = plain
            return root, fields, None
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            raise MalformedResponse("XML with a DTD or entity declaration is refused", raw=raw)
        try:
            return (*_parse_flat(raw), None)
        except _NotFlat:
            return _parse_nested(raw)
    except (ExpatError, ValueError) as exc:
        raise MalformedResponse(f"answer is not well-formed XML ({exc})", raw=raw) from exc


def parse_xml(body: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> XmlDocument:
    """Decode a gateway answer; anything that is not small, plain, well-formed XML is refused.

    Plain answers (distinct text leaves, nothing to unescape) are read by one regular
    expression, other flat answers (every child of the root a distinct leaf) by expat directly,
    the rest by xmltodict; all give the same result. Raises
    :class:`~freedompay_async.errors.MalformedResponse` (keeping the raw body) for broken XML,
    bodies over ``max_bytes`` and any DTD / entity declaration (entity-expansion attacks).
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    root, fields, signed = _parse(raw, max_bytes)
    if signed is None:
        signed = _flat_signed_fields(fields)
    return XmlDocument(root, fields, tuple(signed), raw)


def decode_answer(
    raw: bytes, max_bytes: int = MAX_BODY_BYTES, expected: FlatShape | None = None
) -> tuple[str, dict[str, Any], Sequence[str], FlatShape | None]:
    """:func:`parse_xml`'s root and fields, and the signed fields' values in the signer's order
    (``signer_values(document.signed_fields)``): what the request path needs, once per answer.

    Also the answer's :class:`FlatShape` (None unless it is flat), which a caller passes as
    ``expected`` with the next answer it expects to look alike: the same result, for less.
    """
    if expected is not None and len(raw) <= max_bytes:
        fields = expected.read(raw)
        if fields is not None:
            return expected.root, fields, expected.signed_values(fields), expected
    root, fields, signed = _parse(raw, max_bytes)
    if signed is not None:
        return root, fields, signer_values(signed), None
    shape = FlatShape.of(root, tuple(fields))
    return root, fields, shape.signed_values(fields), shape


def escape(text: str) -> str:
    """XML character data (as ``xml.sax.saxutils.escape``, which imports half of urllib)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_children(fields: Params) -> Iterable[tuple[str, object]]:
    # A list value is a repeated tag: one sibling element per item.
    for tag, value in fields.items():
        if isinstance(value, (list, tuple)):
            for item in value:
                yield tag, item
        else:
            yield tag, value


def xml_leaves(fields: Params, parent: str = "") -> list[tuple[str, str]]:
    """The leaves :func:`render_xml` would produce, named as :func:`parse_xml` names them."""
    leaves: list[tuple[str, str]] = []
    for position, (tag, value) in enumerate(_xml_children(fields), 1):
        if tag == _SIG:
            continue
        name = f"{parent}{tag}{POSITION[position]}"
        if isinstance(value, Mapping):
            # An element without child elements (e.g. only empty lists) parses as an empty leaf.
            nested = xml_leaves(value, name)
            leaves.extend(nested or [(name, "")])
        else:
            leaves.append((name, to_text(value, tag)))
    return leaves


def _render_into(parts: list[str], fields: Params) -> None:
    for tag, value in _xml_children(fields):
        if isinstance(value, Mapping):
            parts.append(f"<{tag}>")
            _render_into(parts, value)
            parts.append(f"</{tag}>")
        else:
            parts.append(f"<{tag}>{escape(to_text(value, tag))}</{tag}>")


def render_xml(root: str, fields: Params) -> bytes:
    """UTF-8 XML document ``<root>...</root>``; nested mappings nest, lists repeat their tag."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n', f"<{root}>"]
    _render_into(parts, fields)
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")
