"""The ``freedompay`` command's exit statuses and the help text that documents them."""

from __future__ import annotations

__all__ = ["EXIT_CODES", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_ROWS", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_ROWS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EXIT_CODES = """\b
Exit status:
  0    every row succeeded (other commands: done)
  1    some rows ended in error or unknown, are still in process or were not sent
       (see the summary or `payouts report`); other commands: the gateway refused
  2    nothing was sent: bad rows, usage, journal mismatch, missing or wrong credentials,
       gateway unreachable
  130  interrupted (Ctrl-C, SIGTERM): the journal is consistent, `payouts resume` it
"""
