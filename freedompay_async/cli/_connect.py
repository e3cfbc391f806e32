"""Where the ``freedompay`` commands send requests: the connection options and the client.

Credentials come from the environment or flags and are never printed; ``--emulator`` runs an
embedded gateway emulator instead.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any, Literal, TypeVar, cast

import aiohttp
import anyio
import attrs
import click

from ..client import FreedomPayClient
from ..errors import ConfigurationError, FreedomPayError, RequestNotSent
from ..payouts import PayoutPolicy
from ..telemetry import Telemetry
from ._exit import EXIT_ROWS, EXIT_USAGE

__all__ = [
    "EMULATOR_GATEWAY",
    "EMULATOR_MERCHANT",
    "EMULATOR_POST_LINK",
    "Gateway",
    "connect",
    "failure",
    "gateway_options",
    "run_async",
]

#: The merchant id of the embedded emulator (``--emulator``) and what its journals record.
EMULATOR_MERCHANT = "552893"
EMULATOR_GATEWAY = "embedded emulator"
#: Notifications of the embedded emulator go to a closed local port: refused at once.
EMULATOR_POST_LINK = "http://127.0.0.1:9/freedompay/payouts"

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen(slots=True)
class Gateway:
    """Where to send requests and with which credentials (secrets never in reprs)."""

    merchant_id: str | None
    secret_key: str | None = attrs.field(repr=False)
    payout_secret_key: str | None = attrs.field(repr=False)
    region: Literal["kz", "uz", "kg"]
    test_host: bool
    base_url: str | None
    emulator: bool
    emulator_latency: float
    timeout: float

    def check(self) -> None:
        """Raise a usage error for missing or contradictory settings (before any I/O)."""
        if self.emulator:
            if self.base_url:
                raise click.UsageError("--emulator and --base-url exclude each other")
            return
        if not self.merchant_id:
            raise click.UsageError(
                "missing merchant id: set FREEDOMPAY_MERCHANT_ID or pass --merchant-id "
                "(or --emulator)"
            )
        if not self.secret_key and not self.payout_secret_key:
            raise click.UsageError(
                "missing secret key: set FREEDOMPAY_PAYOUT_SECRET_KEY / FREEDOMPAY_SECRET_KEY "
                "or pass --payout-secret-key / --secret-key (or --emulator)"
            )


def gateway_options(command: F) -> F:
    """Add the connection options; the command receives them as ``gateway=Gateway(...)``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["gateway"] = Gateway(
            merchant_id=kwargs.pop("merchant_id"),
            secret_key=kwargs.pop("secret_key"),
            payout_secret_key=kwargs.pop("payout_secret_key"),
            region=kwargs.pop("region"),
            test_host=kwargs.pop("test_host"),
            base_url=kwargs.pop("base_url"),
            emulator=kwargs.pop("emulator"),
            emulator_latency=kwargs.pop("emulator_latency"),
            timeout=kwargs.pop("timeout"),
        )
        return command(*args, **kwargs)

    options = [
        click.option(
            "--merchant-id", envvar="FREEDOMPAY_MERCHANT_ID", show_envvar=True, help="Merchant id."
        ),
        click.option(
            "--secret-key",
            envvar="FREEDOMPAY_SECRET_KEY",
            show_envvar=True,
            metavar="KEY",
            help="Payment secret key (never printed; prefer the environment variable).",
        ),
        click.option(
            "--payout-secret-key",
            envvar="FREEDOMPAY_PAYOUT_SECRET_KEY",
            show_envvar=True,
            metavar="KEY",
            help="Payout secret key (default: the payment key; never printed).",
        ),
        click.option(
            "--region",
            envvar="FREEDOMPAY_REGION",
            show_envvar=True,
            type=click.Choice(["kz", "uz", "kg"]),
            default="kz",
            show_default=True,
            help="Country of the documented gateway host.",
        ),
        click.option("--test-host", is_flag=True, help="Use the region's documented test host."),
        click.option(
            "--base-url",
            envvar="FREEDOMPAY_BASE_URL",
            show_envvar=True,
            help="Any other gateway URL (a proxy, a standalone emulator).",
        ),
        click.option(
            "--emulator",
            is_flag=True,
            help="Run against an embedded gateway emulator (generated keys; nothing is paid).",
        ),
        click.option(
            "--emulator-latency",
            type=click.FloatRange(0),
            default=0.05,
            hidden=True,
            help="Seconds the embedded emulator takes per payout (a bank's delay).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=90.0,
            show_default=True,
            help="Seconds per HTTP attempt.",
        ),
    ]
    result: Callable[..., Any] = wrapper
    for option in reversed(options):
        result = option(result)
    return cast(F, result)


@contextlib.asynccontextmanager
async def connect(
    gateway: Gateway,
    *,
    connection_limit: int = 100,
    policy: PayoutPolicy | None = None,
    telemetry: Telemetry | None = None,
) -> AsyncIterator[tuple[FreedomPayClient, str]]:
    """A client (and the gateway's name for journals), with the embedded emulator if asked."""
    timeout = aiohttp.ClientTimeout(total=gateway.timeout, connect=min(10.0, gateway.timeout))
    if gateway.emulator:
        from ..testing import Emulator, Fault  # the emulator needs aiohttp.web only here

        payment_key, payout_key = secrets.token_hex(16), secrets.token_hex(16)
        emulator = Emulator(
            merchant_id=EMULATOR_MERCHANT,
            secret_key=payment_key,
            payout_secret_key=payout_key,
            balance=Decimal("100000000000"),
            notify_retry_delays=(),
        )
        if gateway.emulator_latency:
            for path in ("g2g/p2p2nonreg", "g2g/reg2reg"):
                emulator.faults.add(Fault.latency(gateway.emulator_latency, endpoint=path))
        async with (
            emulator,
            FreedomPayClient(
                EMULATOR_MERCHANT,
                payment_key,
                payout_secret_key=payout_key,
                base_url=emulator.url,
                timeout=timeout,
                connection_limit=connection_limit,
                payout_policy=policy,
                telemetry=telemetry,
            ) as client,
        ):
            yield client, EMULATOR_GATEWAY
        return
    assert gateway.merchant_id is not None
    secret = gateway.secret_key or gateway.payout_secret_key
    assert secret is not None
    try:
        client = FreedomPayClient(
            gateway.merchant_id,
            secret,
            payout_secret_key=gateway.payout_secret_key,
            region=gateway.region,
            environment="test" if gateway.test_host else "production",
            base_url=gateway.base_url,
            timeout=timeout,
            connection_limit=connection_limit,
            payout_policy=policy,
            telemetry=telemetry,
        )
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    async with client:
        yield client, client.base_url


def run_async(function: Callable[..., Any], *args: Any) -> Any:
    return anyio.run(function, *args, backend="asyncio")


class _NotSent(click.ClickException):
    exit_code = EXIT_USAGE


class _Refused(click.ClickException):
    exit_code = EXIT_ROWS


def failure(exc: FreedomPayError) -> click.ClickException:
    """The message and exit status of a failed one-off request: 2 when nothing was sent
    (the gateway unreachable), 1 when the gateway answered with a refusal or nonsense."""
    if isinstance(exc, RequestNotSent):
        return _NotSent(f"{exc} (nothing was sent)")
    return _Refused(str(exc))
