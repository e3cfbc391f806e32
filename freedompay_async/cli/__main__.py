"""``python -m freedompay_async.cli``: the ``freedompay`` command."""

from __future__ import annotations

from . import main

main()
