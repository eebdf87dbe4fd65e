"""`sc2-lsp eval` as a user runs it: a table on stdout, every outcome in JSON, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.test_cli import sc2

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def test_humaneval_runs_executes_and_reports(
    tmp_path: Path, emit_model_factory: Callable[[str], Path]
) -> None:
    model = str(emit_model_factory("x"))
    args = ("eval", "--suite", "humaneval-single-line", "--model", model, "--limit", "3")
    result = sc2(*args, "--compare", "raw", "--json", "out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| exact match | 0.0 % | 0.0 % |" in result.stdout
    assert "| pass@1 (tests run) | 0.0 % | 0.0 % |" in result.stdout
    assert "100%" in result.stderr  # the progress bars
    found = json.loads((tmp_path / "out.json").read_text())
    assert [arm["label"] for arm in found["arms"]] == ["defaults", "raw output"]
    for arm in found["arms"]:
        assert len(arm["outcomes"]) == 3
        for outcome in arm["outcomes"]:
            assert outcome["answered"] and set(outcome["text"].strip()) <= {"x"}
            assert outcome["execution"].startswith("failed")  # `xxxx` is no Python line
    post, raw = (arm["outcomes"] for arm in found["arms"])
    assert all(len(r["text"]) >= len(p["text"]) for p, r in zip(post, raw, strict=True))
    assert str(tmp_path) not in json.dumps(found) and model not in json.dumps(found)


def test_the_repo_suite_samples_the_workspace(
    tmp_path: Path, emit_model_factory: Callable[[str], Path]
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "a.py").write_text("".join(f"v{i} = f({i})\n" for i in range(20)))
    model = str(emit_model_factory("x"))
    args = ("eval", "--suite", "repo", "--workspace", "code", "--model", model, "--limit", "4")
    result = sc2(*args, "--cursor", "mid-word", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "#### repo of `code`, cursor at `mid-word`" in result.stdout
    assert "| tasks (answered) | 4 (4) |" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--suite", "repo"), "--suite repo needs --workspace"),
        (("--suite", "humaneval-single-line", "--limit", "0"), "--limit must be at least 1"),
        (("--suite", "humaneval-single-line", "--compare", "{x"), 'neither "raw" nor valid'),
        (("--suite", "humaneval-single-line", "--model", "missing.gguf"), "not found"),
    ],
)
def test_bad_arguments_are_one_clear_line(
    tmp_path: Path, emit_model_factory: Callable[[str], Path], args: tuple[str, ...], message: str
) -> None:
    model = ("--model", str(emit_model_factory("x"))) if "--model" not in args else ()
    result = sc2("eval", *model, *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
