"""Write the demo payout batch (``examples/payouts.csv``): deterministic, 1,000 rows by default.

Most rows pay made-up, Luhn-valid card numbers (the emulator pays them); some use the
documented payout test cards, so the demo shows declines and payouts that go through
``process`` first:

* 5325349472901311 / 4556046085041740 / 5543974702876045 - declined (10000 / 10001 / 8888);
* 5507841999732294 - ``process``, then success; 4532676596620704 - ``process``, then error.

    python examples/make_demo_batch.py [--rows 1000] [--output examples/payouts.csv]
"""

from __future__ import annotations

import argparse
import csv
import random
from decimal import Decimal
from pathlib import Path

DECLINED = ("5325349472901311", "4556046085041740", "5543974702876045")
PROCESS_THEN_SUCCESS = "5507841999732294"
PROCESS_THEN_ERROR = "4532676596620704"
PREFIXES = ("440043", "400000", "510000", "545454", "220220")
DESCRIPTIONS = ("Salary, November 2026", "Marketplace payout, week 46", "Cashback, November")


def luhn_card(rng: random.Random) -> str:
    """A made-up 16-digit card number that passes the Luhn check."""
    body = rng.choice(PREFIXES) + "".join(rng.choice("0123456789") for _ in range(9))
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:  # doubled: the check digit will be appended on the right
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return body + str(-total % 10)


def card_for(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.06:
        return DECLINED[int(draw / 0.02)]
    if draw < 0.11:
        return PROCESS_THEN_SUCCESS
    if draw < 0.12:
        return PROCESS_THEN_ERROR
    return luhn_card(rng)


def rows(count: int, seed: int = 2026) -> list[dict[str, str]]:
    rng = random.Random(seed)  # noqa: S311 - made-up demo data, not secrets
    return [
        {
            "order_id": f"demo-2026-11-{number:05d}",
            "amount": str(Decimal(rng.randrange(500_00, 250_000_00)).scaleb(-2)),
            "currency": "KZT",
            "card_number": card_for(rng),
            "description": rng.choice(DESCRIPTIONS),
        }
        for number in range(1, count + 1)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("payouts.csv"))
    args = parser.parse_args()
    batch = rows(args.rows, args.seed)
    with args.output.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(batch[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(batch)
    print(f"wrote {len(batch)} rows to {args.output}")


if __name__ == "__main__":
    main()
