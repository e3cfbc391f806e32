"""The ``freedompay`` command group: each command group is imported only when it runs."""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys
from collections.abc import Sequence

import click

from ._exit import EXIT_CODES, EXIT_INTERRUPTED, EXIT_ROWS, EXIT_USAGE

__all__ = ["cli", "run"]


class _LazyGroup(click.Group):
    """A group whose commands are imported only when they are used.

    ``commands`` maps a command's name to ``(module, attribute, short help)``; the short help
    is what ``freedompay --help`` lists, so listing imports nothing.
    """

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy and cmd_name not in self.commands:
            module, attribute, _ = self._lazy[cmd_name]
            command = getattr(importlib.import_module(module, __package__), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self._lazy[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=_LazyGroup,
    lazy={
        "payouts": (
            "._payouts",
            "payouts",
            "Payout batches (run, resume, report, watch; submit and worker on PostgreSQL) "
            "and the status of one payout.",
        ),
        "balance": ("._tools", "balance_command", "The merchant's payout balance."),
        "emulator": ("._emulator", "emulator_command", "Serve the gateway emulator."),
        "sign": ("._tools", "sign_command", "Show what the gateway signs, and the pg_sig."),
    },
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES,
)
@click.version_option(package_name="freedompay-async", prog_name="freedompay")
def cli() -> None:
    """FreedomPay payouts from the command line: batches with a resumable journal, payout
    status, balance, a local gateway emulator and signature debugging.

    Try it without an account: freedompay payouts run examples/payouts.csv --emulator
    """


def run(argv: Sequence[str] | None, *, command: click.Command = cli, prog_name: str) -> int:
    """Run ``command`` and return its exit status; a user's mistake, Ctrl-C or the
    environment end it with a message, never with a traceback (nor click's "Aborted!")."""
    try:
        status = command.main(
            args=list(argv) if argv is not None else None,
            prog_name=prog_name,
            standalone_mode=False,
        )
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):  # Ctrl-C outside a batch (a batch handles its own)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command is over: a second one too
        sys.stderr.write(f"{prog_name}: interrupted\n")
        return EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader of a pipe went away (| head): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_ROWS
        sys.stderr.write(f"{prog_name}: error: {exc}\n")
        return EXIT_USAGE
    return status if isinstance(status, int) else 0
