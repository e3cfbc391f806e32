"""Masking of card numbers for logs, reprs and exception messages (PCI DSS: first 6 / last 4)."""

from __future__ import annotations

import re

# 13-19 digits, contiguous or in groups separated by single spaces or dashes. Any such run is
# masked, Luhn-valid or not: hiding an order id by mistake is cheap, leaking a PAN is not.
_CARD_RUN = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")


def mask_pan(pan: str) -> str:
    """``4405645000006150`` -> ``440564******6150``; separators are dropped."""
    # (A batch masks every row's card number, which is digits only: no character loop then.)
    digits = pan if pan.isdigit() else "".join(ch for ch in pan if ch.isdigit())
    if len(digits) < 13:
        return "*" * len(digits)
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def mask_card_numbers(text: str) -> str:
    """Mask every card-number-like run of digits inside free text."""
    return _CARD_RUN.sub(lambda m: mask_pan(m.group(0)), text)
