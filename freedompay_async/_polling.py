"""One shared clock for every payout a client is waiting for.

Thousands of waiting payouts must cost next to nothing: each waiter sleeps on a plain future,
and the futures due in the same slot (a quarter of a second) share one event-loop timer. A
verified payout notification wakes the waiters of its order at once.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["WaitClock"]

#: Seconds per slot: waiters due within one slot share its timer.
_SLOT = 0.25

N = TypeVar("N")


class WaitClock(Generic[N]):
    """Sleeps of waiting orders, sharing one timer per slot; :meth:`notify` cuts them short."""

    __slots__ = ("_arrived", "_sleeping", "_slots", "_watching")

    def __init__(self) -> None:
        self._slots: dict[int, list[asyncio.Future[None]]] = {}
        self._sleeping: dict[str, set[asyncio.Future[None]]] = {}
        self._watching: dict[str, int] = {}
        self._arrived: dict[str, N] = {}

    @contextmanager
    def watch(self, order_id: str) -> Iterator[None]:
        """While open, a notification for ``order_id`` is kept for :meth:`arrived`."""
        self._watching[order_id] = self._watching.get(order_id, 0) + 1
        try:
            yield
        finally:
            left = self._watching[order_id] - 1
            if left:
                self._watching[order_id] = left
            else:
                del self._watching[order_id]
                self._arrived.pop(order_id, None)

    def arrived(self, order_id: str) -> N | None:
        """The notification received for a watched order, if any."""
        return self._arrived.get(order_id)

    def notify(self, order_id: str, notification: N) -> bool:
        """Hand ``notification`` to the waiters of ``order_id``; whether anyone waits for it."""
        if order_id not in self._watching:
            return False
        self._arrived[order_id] = notification
        for future in self._sleeping.get(order_id, ()):
            if not future.done():
                future.set_result(None)
        return True

    async def sleep(self, order_id: str, seconds: float) -> None:
        """Sleep about ``seconds`` (rounded up to the slot), or until a notification."""
        loop = asyncio.get_running_loop()
        slot = math.ceil((loop.time() + max(seconds, 0.0)) / _SLOT)
        future: asyncio.Future[None] = loop.create_future()
        due = self._slots.get(slot)
        if due is None:
            due = self._slots[slot] = []
            loop.call_at(slot * _SLOT, self._wake, slot)
        due.append(future)
        sleeping = self._sleeping.setdefault(order_id, set())
        sleeping.add(future)
        try:
            await future
        finally:
            sleeping.discard(future)
            if not sleeping:
                self._sleeping.pop(order_id, None)

    def _wake(self, slot: int) -> None:
        for future in self._slots.pop(slot, ()):
            if not future.done():
                future.set_result(None)
