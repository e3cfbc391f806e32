"""``python -m freedompay_async.testing``: serve the emulator until interrupted.

Keys may come from the environment (``FREEDOMPAY_SECRET_KEY``, ``FREEDOMPAY_PAYOUT_SECRET_KEY``)
so they do not show up in process listings. Prints one line with the URL once it listens
(with ``--port 0`` that is how a parent process learns the port) and never prints a key.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ._emulator import Emulator
from ._protocol import PAYOUT_CARD_SAVE_NAMES

__all__ = ["main"]


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal amount: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freedompay-emulator", description="Serve a stateful FreedomPay gateway emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--merchant-id", default=os.environ.get("FREEDOMPAY_MERCHANT_ID"))
    parser.add_argument(
        "--secret-key",
        default=os.environ.get("FREEDOMPAY_SECRET_KEY"),
        help="payment key (default: $FREEDOMPAY_SECRET_KEY)",
    )
    parser.add_argument(
        "--payout-secret-key",
        default=os.environ.get("FREEDOMPAY_PAYOUT_SECRET_KEY"),
        help="payout key (default: $FREEDOMPAY_PAYOUT_SECRET_KEY, else the payment key)",
    )
    parser.add_argument("--balance", type=_decimal, default=Decimal("1000000.00"))
    parser.add_argument("--currency", default="KZT")
    parser.add_argument("--api-root", default="root", help="answer root of api/* scripts")
    parser.add_argument("--mfs-root", default="root", help="answer root of mfs/* scripts")
    parser.add_argument(
        "--payout-card-save",
        choices=PAYOUT_CARD_SAVE_NAMES,
        default="documented",
        help="how saving a card for payouts is expected (see EmulatorSettings)",
    )
    return parser


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with emulator:
        print(f"freedompay emulator listening on {emulator.url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve until SIGINT / SIGTERM; returns the exit status."""
    args = _parser().parse_args(argv)
    if not args.merchant_id or not args.secret_key:
        print(
            "error: --merchant-id and --secret-key (or their env vars) are required",
            file=sys.stderr,
        )
        return 2
    emulator = Emulator(
        merchant_id=args.merchant_id,
        secret_key=args.secret_key,
        payout_secret_key=args.payout_secret_key,
        balance=args.balance,
        currency=args.currency,
        api_root=args.api_root,
        mfs_root=args.mfs_root,
        payout_card_save=args.payout_card_save,
        host=args.host,
        port=args.port,
    )
    asyncio.run(_serve(emulator))
    return 0


if __name__ == "__main__":
    sys.exit(main())
