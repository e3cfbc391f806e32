"""``freedompay balance`` and ``freedompay sign``: small tools around one request."""

from __future__ import annotations

from typing import Any, cast

import click

from .._endpoints import ENDPOINTS, KeyKind
from .._wire import parse_form
from ..errors import FreedomPayError, UnsupportedValueType, ValidationError
from ..signing import script_name, sign, signing_string
from . import _output
from ._connect import Gateway, connect, failure, gateway_options, run_async
from ._exit import EXIT_ROWS

__all__ = ["balance_command", "sign_command"]


@click.command("balance")
@click.option("--currency", help="Balance currency, e.g. KZT.")
@gateway_options
def balance_command(currency: str | None, gateway: Gateway) -> None:
    """The merchant's payout balance."""
    gateway.check()

    async def ask() -> Any:
        async with connect(gateway) as (client, _):
            return await client.payouts.balance(currency)

    try:
        balance = run_async(ask)
    except FreedomPayError as exc:
        raise failure(exc) from None
    _output.print_balance(_output.console(), balance)


def _key_kind(script: str) -> KeyKind | None:
    """The key the endpoint table signs ``script`` with (``None``: not a documented script)."""
    for endpoint in ENDPOINTS:
        if endpoint.script == script:
            return endpoint.key
    return None


def _script(argument: str) -> str:
    """The script name of SCRIPT; a NAME=VALUE there means the script name was forgotten."""
    if "=" in argument and "://" not in argument:
        raise click.UsageError(
            f"SCRIPT is missing: {argument!r} is a field; give the script the request went to "
            "first, e.g. `freedompay sign g2g/payout_status2 pg_order_id=...`"
        )
    name = script_name(argument if "/" in argument else "/" + argument)
    if not name:
        raise click.UsageError(f"{argument!r} names no script (it ends with '/')")
    return name


@click.command("sign")
@click.argument("script")
@click.argument("params", nargs=-1, metavar="[NAME=VALUE]...")
@click.option(
    "--key",
    "key_kind",
    type=click.Choice(["auto", "payment", "payout"]),
    default="auto",
    show_default=True,
    help="Which secret signs SCRIPT (auto: the endpoint table's choice).",
)
@click.option(
    "--secret-key",
    envvar="FREEDOMPAY_SECRET_KEY",
    show_envvar=True,
    metavar="KEY",
    help="Payment secret key (never printed).",
)
@click.option(
    "--payout-secret-key",
    envvar="FREEDOMPAY_PAYOUT_SECRET_KEY",
    show_envvar=True,
    metavar="KEY",
    help="Payout secret key (default: the payment key; never printed).",
)
def sign_command(
    script: str,
    params: tuple[str, ...],
    key_kind: str,
    secret_key: str | None,
    payout_secret_key: str | None,
) -> None:
    """Print the string the gateway hashes for a request to SCRIPT, with the secret key (and
    card numbers) masked, and its pg_sig - for "bad signature" answers.

    SCRIPT is the script name or path (p2p2nonreg, g2g/payout_status2, a URL). Give every
    field you sent, in the order you sent it, pg_salt and pg_merchant_id included
    (pg_receipt_positions[0][name]=... style names are nested as the gateway nests them). A
    pg_sig among them is compared with the computed one: the exit status is 1 when it does not
    match.
    """
    name = _script(script)
    documented = _key_kind(name)
    if key_kind == "auto" and documented is None:
        click.echo(
            f"note: {name} is not in the endpoint table; signing with the payment key "
            "(--key payout for a payout script)",
            err=True,
        )
    kind: KeyKind = (documented or "payment") if key_kind == "auto" else cast(KeyKind, key_kind)
    secret = (payout_secret_key or secret_key) if kind == "payout" else secret_key
    if not secret:
        env = "FREEDOMPAY_PAYOUT_SECRET_KEY" if kind == "payout" else "FREEDOMPAY_SECRET_KEY"
        raise click.UsageError(f"missing {kind} secret key: set {env} or pass the option")
    pairs: list[tuple[str, str]] = []
    for param in params:
        field, sep, value = param.partition("=")
        if not sep or not field:
            raise click.UsageError(f"expected NAME=VALUE, got {param!r}")
        pairs.append((field, value))
    fields = parse_form(pairs)
    given = fields.get("pg_sig")
    try:
        text = signing_string(name, fields, secret)
        signature = sign(name, fields, secret)
    except (ValidationError, UnsupportedValueType) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"script          {name} (signed with the {kind} key)")
    click.echo(f"signing string  {text}")
    click.echo(f"pg_sig          {signature}")
    if isinstance(given, str):
        if given != signature:
            click.echo("given pg_sig    DOES NOT MATCH the computed pg_sig")
            raise click.exceptions.Exit(EXIT_ROWS)
        click.echo("given pg_sig    matches")
