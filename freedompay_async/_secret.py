"""A secret key wrapper (light to import: the callbacks helpers need it without aiohttp)."""

from __future__ import annotations

__all__ = ["_Secret"]


class _Secret:
    """A secret key that never shows up in reprs, logs or tracebacks' locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"
