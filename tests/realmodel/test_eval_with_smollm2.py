"""`sc2-lsp eval` with real weights: HumanEval tasks run to the end and are executed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import sc2

pytestmark = [pytest.mark.realmodel, pytest.mark.e2e]


def test_humaneval_with_smollm2_reports_pass_exact_match_and_latency(
    smollm2: Path, tmp_path: Path
) -> None:
    args = ("eval", "--suite", "humaneval-single-line", "--model", str(smollm2), "--limit", "6")
    result = sc2(*args, "--seed", "7", "--json", "out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for row in ("| pass@1 (tests run) |", "| exact match |", "| latency p50 / p90 / p99 |"):
        assert row in result.stdout
    (arm,) = json.loads((tmp_path / "out.json").read_text())["arms"]
    verdicts = [outcome["execution"] for outcome in arm["outcomes"]]
    assert len(verdicts) == 6 and all(outcome["answered"] for outcome in arm["outcomes"])
    assert all(v == "passed" or v.startswith("failed") or v == "timed out" for v in verdicts)
    assert arm["metrics"]["generated_tokens_per_s"] > 0
