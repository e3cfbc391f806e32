"""The examples read their keys from the environment and refuse to start without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SERVE = "import asgi_callbacks\nprint(type(asgi_callbacks.app).__name__)"


def serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FREEDOMPAY_")}
    return subprocess.run(  # noqa: S603 - our own interpreter and example
        [sys.executable, "-c", SERVE],
        cwd=EXAMPLES,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_asgi_example_refuses_to_start_without_keys() -> None:
    missing = serve({})
    assert missing.returncode != 0
    assert "set FREEDOMPAY_SECRET_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr
    half = serve({"FREEDOMPAY_SECRET_KEY": "a-key"})
    assert "set FREEDOMPAY_PAYOUT_SECRET_KEY" in half.stderr
    keys = {"FREEDOMPAY_SECRET_KEY": "a-key", "FREEDOMPAY_PAYOUT_SECRET_KEY": "another"}
    served = serve(keys)
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip() == "Starlette"


def test_no_example_carries_a_fallback_key() -> None:
    for example in EXAMPLES.glob("*.py"):
        text = example.read_text("utf-8")
        assert 'environ.get("FREEDOMPAY_SECRET_KEY",' not in text, example
        assert 'secret-key")' not in text, example
