"""The README's "Performance" code block runs as written: a notification ends the wait."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
SECTION = README[README.index("## Performance\n") :]
SECTION = SECTION[: SECTION.index("\n## ", 1)] if "\n## " in SECTION[1:] else SECTION
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)


def test_the_notification_block_runs(capsys: Any) -> None:
    assert len(BLOCKS) == 1
    started = time.monotonic()
    exec(compile(BLOCKS[0], "README.md", "exec"), {"__name__": "__main__"})  # noqa: S102
    # Settled after 0.5 s; without the notification the first poll would come after 22-30 s.
    assert time.monotonic() - started < 15
    assert capsys.readouterr().out.split() == ["PayoutState.SUCCESS", "True"]
