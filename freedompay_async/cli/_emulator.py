"""``freedompay emulator`` (also ``freedompay-emulator``): serve the stateful gateway emulator.

Keys may come from the environment so they do not show up in process listings. Prints one line
with the URL once it listens (with ``--port 0`` that is how a parent process learns the port)
and never prints a key. Serves until SIGINT / SIGTERM, then exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import cast

import attrs
import click

from ..testing import Emulator, EmulatorSettings, PayoutCardSave
from ..testing._protocol import PAYOUT_CARD_SAVE_NAMES

__all__ = ["emulator_command", "main"]

_DEFAULTS = attrs.fields(EmulatorSettings)


def _balance(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"not a decimal amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter(f"not a balance: {value!r}")
    return amount


_EXIT_STATUS = """\b
Exit status:
  0    stopped by Ctrl-C or SIGTERM
  2    usage: a missing merchant id or key, a bad option, the port in use
"""


@click.command(
    "emulator",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_EXIT_STATUS,
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on; 0 picks a free one (the printed URL says which).",
)
@click.option(
    "--merchant-id",
    envvar="FREEDOMPAY_MERCHANT_ID",
    show_envvar=True,
    help="The emulated merchant's numeric id.  [required]",
)
@click.option(
    "--secret-key",
    envvar="FREEDOMPAY_SECRET_KEY",
    show_envvar=True,
    metavar="KEY",
    help="The payment secret key requests are signed with (prefer the environment variable; "
    "never printed).  [required]",
)
@click.option(
    "--payout-secret-key",
    envvar="FREEDOMPAY_PAYOUT_SECRET_KEY",
    show_envvar=True,
    metavar="KEY",
    help="The payout secret key.  [default: the payment key]",
)
@click.option(
    "--balance",
    metavar="AMOUNT",
    default=str(_DEFAULTS.balance.default),
    callback=_balance,
    show_default=True,
    help="The payout balance the account starts with.",
)
@click.option(
    "--currency",
    default=_DEFAULTS.currency.default,
    show_default=True,
    help="The balance's currency.",
)
@click.option(
    "--api-root",
    default=_DEFAULTS.api_root.default,
    show_default=True,
    help="Root element name of the api/* scripts' XML answers.",
)
@click.option(
    "--mfs-root",
    default=_DEFAULTS.mfs_root.default,
    show_default=True,
    help="Root element of the mfs/* (mobile balance) scripts' XML answers.",
)
@click.option(
    "--payout-card-save",
    type=click.Choice(PAYOUT_CARD_SAVE_NAMES),
    default=_DEFAULTS.payout_card_save.default,
    show_default=True,
    help="Which published variant of saving a card for payouts the gateway expects "
    "(see EmulatorSettings).",
)
def emulator_command(
    host: str,
    port: int,
    merchant_id: str | None,
    secret_key: str | None,
    payout_secret_key: str | None,
    balance: Decimal,
    currency: str,
    api_root: str,
    mfs_root: str,
    payout_card_save: str,
) -> None:
    """Serve a stateful FreedomPay gateway emulator until Ctrl-C (payouts, payments, cards,
    tokens, mobile balance; signed like the real gateway). Nothing is paid.

    Example: FREEDOMPAY_SECRET_KEY=test freedompay emulator --merchant-id 552893 --port 0
    """
    if not merchant_id or not secret_key:
        raise click.UsageError(
            "--merchant-id and --secret-key (or FREEDOMPAY_MERCHANT_ID and "
            "FREEDOMPAY_SECRET_KEY) are required"
        )
    if not merchant_id.isdigit():
        raise click.BadParameter("must be the numeric merchant id", param_hint="--merchant-id")
    emulator = Emulator(
        merchant_id=merchant_id,
        secret_key=secret_key,
        payout_secret_key=payout_secret_key,
        balance=balance,
        currency=currency,
        api_root=api_root,
        mfs_root=mfs_root,
        payout_card_save=cast(PayoutCardSave, payout_card_save),
        host=host,
        port=port,
    )
    asyncio.run(_serve(emulator))


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with emulator:
        print(f"freedompay emulator listening on {emulator.url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``freedompay-emulator`` script (and ``python -m freedompay_async.testing``)."""
    from ._group import run

    return run(argv, command=emulator_command, prog_name="freedompay-emulator")
