"""Per-call work that is done once: enum aliases, read timers."""

from __future__ import annotations

from typing import Any

from freedompay_async import DEFAULT_TIMEOUT
from freedompay_async._convert import WordEnum


def test_word_enum_aliases_are_built_once() -> None:
    built = []

    class Word(WordEnum):
        OK = "ok"
        UNKNOWN = "unknown"

        @classmethod
        def _aliases(cls) -> dict[str, Any]:
            built.append(1)
            return {"fine": cls.OK}

    assert [Word("fine"), Word("new"), Word("fine"), Word(None)] == [
        Word.OK,
        Word.UNKNOWN,
        Word.OK,
        Word.UNKNOWN,
    ]
    assert len(built) == 1


def test_the_default_timeout_bounds_attempts_without_a_read_timer() -> None:
    assert DEFAULT_TIMEOUT.sock_read is None
    assert DEFAULT_TIMEOUT.total == 90
    assert DEFAULT_TIMEOUT.connect == 10  # "certainly not sent" stays bounded
