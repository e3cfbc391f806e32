from __future__ import annotations

import pytest

# Installed, the package registers this plugin itself; declared here so the suite also runs
# from a source tree that was not installed.
pytest_plugins = ["freedompay_async.testing.pytest_plugin"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
