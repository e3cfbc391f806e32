"""The ``freedompay`` command group: each command group is imported only when it runs."""

from __future__ import annotations

import importlib

import click

from ._exit import EXIT_CODES

__all__ = ["cli"]


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
            "Payout batches (run, resume, report) and the status of one payout.",
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
