# ruff: noqa: RUF001, RUF002 (the excerpts write ranges with en dashes and ellipses)
"""The endpoint reference excerpts (``shared/api/*.md``) read as data: per documented path, the
request fields with their "Req" cell and constraints, and the answer field names.

Only what the excerpts state in their tables is read; a cell this reader cannot interpret
(``OLD: optional; V1: required``, ``cond.``) is kept as it is and compared by no test.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import attrs

# The excerpts live next to the project in the shared workspace; a copy would go stale.
EXCERPT_DIRS = (Path(__file__).parent.parent.parent / "shared" / "api", Path("/work/shared/api"))
EXCERPTS = next(
    (sorted(folder.glob("*.md")) for folder in EXCERPT_DIRS if any(folder.glob("*.md"))), []
)

_PATH = re.compile(
    r"`(?:POST )?(?:\{host\})?/((?:g2g|api|v\d|mfs)/[A-Za-z0-9_/{}.]+|[a-z_0-9]+\.php)`"
)
_NAME = re.compile(r"\b(pg_[a-z0-9_]+|deleted_at|created_at)\b")
_ANSWER_START = re.compile(r"^(?:response|responses|answer)\b|^- `add` response", re.IGNORECASE)
#: Fields every request carries from the client's pipeline, not from a facade.
PIPELINE = frozenset({"pg_merchant_id", "pg_salt", "pg_sig", "pg_idempotency_key"})
#: Fields of every answer envelope (the requestor reads them, not the endpoint's model).
ENVELOPE = frozenset(
    {"pg_status", "pg_salt", "pg_sig", "pg_error_code", "pg_error_description", "pg_datetime"}
)


@attrs.frozen
class DocField:
    name: str
    required: bool | None  # None: the excerpt's cell says neither plainly
    constraints: str
    source: str

    def max_length(self) -> int | None:
        match = re.search(r"≤ ?([0-9][0-9 ]*)", self.constraints)
        return int(match[1].replace(" ", "")) if match else None

    def value_range(self) -> tuple[Decimal | None, Decimal | None] | None:
        """``0.01 … 99 999 999`` -> both bounds, ``≥ 0.01`` / ``min 0.01`` -> the low one."""
        text = self.constraints
        match = re.search(r"([0-9][0-9.]*) ?(?:…|\.\.) ?([0-9][0-9 ]*[0-9])(?! ?\(length\))", text)
        if match and not re.search(r"digits|chars|length", text):
            return Decimal(match[1]), Decimal(match[2].replace(" ", ""))
        match = re.search(r"(?:≥ ?|min )([0-9][0-9.]*)(?! char)", text)
        if match:
            return Decimal(match[1].rstrip(".")), None
        return None

    def length_range(self) -> tuple[int, int] | None:
        """``13..20 (length)``, ``13–20 digits``, ``1–255 chars``, ``3 digits``."""
        text = self.constraints
        match = re.search(r"([0-9]+) ?(?:\.\.|–|…) ?([0-9]+) ?(?:\(length\)|digits|chars)", text)
        if match:
            return int(match[1]), int(match[2])
        match = re.search(r"(?<![0-9.])([0-9]+) digits", text)
        if match:
            return int(match[1]), int(match[1])
        return None


def _required(cell: str) -> bool | None:
    word = cell.replace("*", "").strip().lower()
    if word in ("yes", "y"):
        return True
    if word in ("no", "n"):
        return False
    return None


def _names(cell: str) -> list[str]:
    """``pg_salt, pg_sig`` / ``pg_param1..3`` / ``pg_receipt_positions[i][count/name]``."""
    cell = cell.replace("`", "")
    param = re.fullmatch(r"pg_param1(?:\.\.|…pg_param)3", cell)
    if param:
        return ["pg_param1", "pg_param2", "pg_param3"]
    receipt = re.fullmatch(r"pg_receipt_positions\[i\]\[([a-z_/]+)\]", cell)
    if receipt:
        return [f"pg_receipt_positions[i][{part}]" for part in receipt[1].split("/")]
    if cell.startswith("pg_receipt_positions["):
        return []  # "pg_receipt_positions[...] as P4": the positions are read where listed
    discount = re.fullmatch(r"(pg_[a-z_]+)\(\+(_[a-z]+), (_[a-z]+)\)", cell)
    if discount:
        return [discount[1], discount[1] + discount[2], discount[1] + discount[3]]
    return [name for name in re.split(r"\s*[,/]\s*", cell) if re.fullmatch(r"pg_[a-z0-9_]+", name)]


@attrs.define
class DocEndpoint:
    path: str
    request: dict[str, list[DocField]] = attrs.Factory(dict)
    answer: set[str] = attrs.Factory(set)
    tables: set[str] = attrs.Factory(set)  # the sections with a request table

    def required(self, name: str) -> bool | None:
        """True when every section of the path requires the field, False when none does."""
        said = {field.required for field in self.request[name]}
        if said == {True} and len(self.request[name]) == len(self.tables):
            return True
        return False if said == {False} else None


def read_excerpts() -> dict[str, DocEndpoint]:
    endpoints: dict[str, DocEndpoint] = {}
    for excerpt in EXCERPTS:
        current: DocEndpoint | None = None
        in_answer = in_paragraph = False
        heading = ""
        for line in excerpt.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                match = _PATH.search(line) if line.startswith("###") else None
                current = None
                if match:
                    path = match[1].replace("{mid}", "{merchant_id}")
                    current = endpoints.setdefault(path, DocEndpoint(path))
                in_answer, heading = False, line
                continue
            if current is None:
                continue
            opening = not in_answer and bool(_ANSWER_START.match(line.strip()))
            if opening:
                in_answer = in_paragraph = True
            if in_answer:
                # The paragraph that opens the answer and the answer's tables, not later prose.
                in_paragraph = in_paragraph and (
                    opening or (bool(line.strip()) and not line.startswith(("| ", "- ")))
                )
                if line.startswith("| "):
                    first = _NAME.findall(line.split("|")[1])
                    current.answer.update(first or _NAME.findall(line))
                elif in_paragraph:  # "... If `pg_3ds=1` complete via ...": another request
                    current.answer.update(_NAME.findall(line.split(". If ")[0]))
                continue
            if not line.startswith("| "):
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) < 3 or cells[0].startswith(("Field", "Request field", "---")):
                continue
            names = _names(cells[0])
            notes = cells[3] if len(cells) > 3 else ""
            # "pg_commission_discount(+_fix, _percentage)": "0/1; fix 1…99999999; pct 1…100".
            parts = notes.split(";") if len(names) > 1 and notes.count(";") == 2 else None
            current.tables.add(heading)
            for index, name in enumerate(names):
                current.request.setdefault(name, []).append(
                    DocField(
                        name,
                        _required(cells[2]),
                        parts[index] if parts else notes,
                        f"{excerpt.name}: {heading.strip('# ')}",
                    )
                )
    return endpoints
