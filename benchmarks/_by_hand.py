"""The gateway exchange written by hand (hashlib + urlencode + xmltodict), as a baseline.

What a careful developer writes without this library: sign the form, post it, parse the XML
answer and check its signature. Benchmarks time it next to ``FreedomPayClient``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from urllib.parse import urlencode

import xmltodict

HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def signed_body(script: str, params: Mapping[str, str], merchant_id: str, key: str) -> bytes:
    fields = {**params, "pg_merchant_id": merchant_id, "pg_salt": secrets.token_hex(8)}
    by_name = {f"{name}{i:03d}": value for i, (name, value) in enumerate(fields.items(), 1)}
    text = ";".join([script, *(by_name[name] for name in sorted(by_name)), key])
    fields["pg_sig"] = hashlib.md5(text.encode()).hexdigest()
    return urlencode(fields).encode()


def checked_answer(script: str, body: bytes, key: str) -> dict[str, str]:
    root: dict[str, str] = next(iter(xmltodict.parse(body).values()))
    leaves = [(name, value or "") for name, value in root.items() if name != "pg_sig"]
    named = sorted((f"{name}{i:03d}{i:03d}", value) for i, (name, value) in enumerate(leaves, 1))
    text = ";".join([script, *(value for _, value in named), key])
    if hashlib.md5(text.encode()).hexdigest() != root["pg_sig"]:
        raise RuntimeError("bad signature")
    return root
