"""``freedompay emulator``: serve the stateful gateway emulator."""

from __future__ import annotations

import click

__all__ = ["emulator_command"]


@click.command(
    "emulator",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def emulator_command(args: tuple[str, ...]) -> None:
    """Serve the gateway emulator (the freedompay-emulator command; --help for its options)."""
    from ..testing.__main__ import main as emulator_main

    raise click.exceptions.Exit(emulator_main(list(args)))
