"""``freedompay``: payout batches, payout status, balance, the emulator and signature debugging.

A thin layer over the library (:mod:`freedompay_async.batch`, ``client.payouts``). Needs the
``cli`` extra (click and rich).

Credentials come from the environment (``FREEDOMPAY_MERCHANT_ID``, ``FREEDOMPAY_SECRET_KEY``,
``FREEDOMPAY_PAYOUT_SECRET_KEY``, ``FREEDOMPAY_REGION`` / ``FREEDOMPAY_BASE_URL``) or flags; a
secret is never printed. ``--emulator`` runs against an embedded gateway emulator instead.

Layout: ``_group`` assembles the command group; every command group has its own module
(``_payouts``, ``_emulator``, ``_tools`` for balance and sign), imported only when it runs, so
``freedompay --help`` does not load aiohttp; ``_connect`` holds the connection options,
``_output`` what is printed. This module imports neither click nor rich, so that a wheel
installed without the ``cli`` extra says what to install instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._exit import EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS, EXIT_USAGE

if TYPE_CHECKING:
    from ._group import cli

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_ROWS", "EXIT_USAGE", "cli", "main"]

#: What the ``cli`` extra brings; without it the commands say how to install it.
CLI_EXTRA_MODULES = frozenset({"click", "rich"})


def missing_extra_message(program: str, module: str) -> str:
    """What to tell the user when ``module`` of the ``cli`` extra is not installed."""
    from .. import __version__

    return (
        f"{program}: the command line needs the 'cli' extra ({module} is not installed).\n"
        "Install it into this environment, one of:\n"
        '  in a clone of the repository:  python -m pip install ".[cli]"\n'
        "  from a built wheel:            python -m pip install "
        f'"dist/freedompay_async-{__version__}-py3-none-any.whl[cli]"\n'
        "  only the two packages:         python -m pip install click rich\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``freedompay`` script."""
    try:
        from ._group import run

        status = run(argv, prog_name="freedompay")
    except ModuleNotFoundError as exc:  # a command group imports rich when it runs
        module = (exc.name or "").partition(".")[0]
        if module not in CLI_EXTRA_MODULES:
            raise
        sys.stderr.write(missing_extra_message("freedompay", module))
        raise SystemExit(EXIT_USAGE) from None
    raise SystemExit(status)


def __getattr__(name: str) -> Any:
    if name == "cli":  # the click group, for embedding and tests
        from ._group import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
