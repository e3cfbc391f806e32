"""The installed ``freedompay`` console script, run as a user runs it: in a subprocess.

Every test asserts the exit status and that no traceback reached the user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = shutil.which("freedompay", path=str(Path(sys.executable).parent))


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment without FreedomPay settings (so none leak in), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREEDOMPAY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def run(
    command: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and console script
        list(command),
        capture_output=True,
        text=True,
        env=environment(env),
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def freedompay(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None, "the package is not installed: no freedompay console script"
    return run([SCRIPT, *args], env)


def test_help_lists_every_command_without_loading_the_library() -> None:
    result = freedompay("--help")
    assert result.returncode == 0
    for command in ("payouts", "balance", "emulator", "sign"):
        assert command in result.stdout
    probe = run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom freedompay_async.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('aiohttp', 'rich') if m in sys.modules))",
        ]
    )
    assert probe.stdout.strip().endswith("[]")  # --help pays for click only


@pytest.mark.parametrize("missing", ["click", "rich"])
def test_without_the_cli_extra_the_command_says_what_to_install(missing: str) -> None:
    # sys.modules[name] = None makes ``import name`` fail as in an environment without it.
    code = (
        f"import sys\nsys.modules[{missing!r}] = None\n"
        "from freedompay_async.cli import main\nmain(['payouts', '--help'])"
    )
    result = run([sys.executable, "-c", code])
    assert result.returncode == 2
    assert f"{missing} is not installed" in result.stderr
    assert "python -m pip install click rich" in result.stderr
