"""``python -m freedompay_async.testing``: serve the emulator until interrupted.

The same command as ``freedompay emulator`` and ``freedompay-emulator`` (``--help`` lists the
options); it needs the ``cli`` extra (click).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT / SIGTERM; returns the exit status."""
    from ..cli import CLI_EXTRA_MODULES, EXIT_USAGE, missing_extra_message

    try:
        from ..cli._emulator import main as emulator_main
    except ModuleNotFoundError as exc:
        module = (exc.name or "").partition(".")[0]
        if module not in CLI_EXTRA_MODULES:
            raise
        sys.stderr.write(missing_extra_message("freedompay-emulator", module))
        return EXIT_USAGE
    return emulator_main(argv)


if __name__ == "__main__":
    sys.exit(main())
