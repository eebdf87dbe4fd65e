"""`sc2-lsp eval` without a model: tasks and their masks, metrics, the sandbox, arms, reports,
and one arm run through the real completer on the scripted engine."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.eval import humaneval, report, sandbox
from sc2_lsp.eval.repo import repository_tasks
from sc2_lsp.eval.run import arms_for
from sc2_lsp.eval.runner import ArmRun, Outcome
from sc2_lsp.eval.tasks import (
    EvalError,
    cursor_column,
    edit_similarity,
    exact_match,
    levenshtein,
    mask,
    sample,
)
from tests.fakes import ScriptedEngine

SOURCE = "def f(x):\n    total = compute(x)\n    return total\n"


def test_a_line_task_cuts_the_line_after_its_indentation() -> None:
    task = mask("t", Path("a.py"), SOURCE, (10, 32), "line", seed=0)
    assert task is not None
    assert task.expected == "total = compute(x)"
    assert task.text == "def f(x):\n    \n    return total\n" and task.offset == 14
    assert task.completed(task.expected) == SOURCE


def test_a_mid_word_cursor_lies_strictly_inside_a_word() -> None:
    rng = random.Random(1)
    for _ in range(200):
        column = cursor_column("    total = compute(x)", "mid-word", rng)
        assert column is not None
        line = "    total = compute(x)"
        assert line[column - 1].isalnum() and line[column].isalnum()
    assert cursor_column("    ) + 1", "mid-word", rng) is None  # no word of two letters


def test_the_same_seed_draws_the_same_tasks() -> None:
    tasks = [mask(f"t{i}", Path("a.py"), SOURCE, (10, 32), "mid-word", seed=3) for i in range(9)]
    again = [mask(f"t{i}", Path("a.py"), SOURCE, (10, 32), "mid-word", seed=3) for i in range(9)]
    assert tasks == again
    drawn = sample([t for t in tasks if t], 4, seed=5)
    assert drawn == sample([t for t in tasks if t], 4, seed=5) and len(drawn) == 4
    assert [t.id for t in drawn] == sorted((t.id for t in drawn), key=lambda i: int(i[1:]))


def test_exact_match_and_edit_similarity() -> None:
    assert exact_match("return x  ", "return x") and not exact_match(" return x", "return x")
    assert levenshtein("kitten", "sitting") == 3 and levenshtein("", "abc") == 3
    assert edit_similarity("abcd", "abcf") == pytest.approx(0.75)
    assert edit_similarity("", "") == 1.0 and edit_similarity("", "x") == 0.0


def test_humaneval_masks_every_solution_line_once() -> None:
    problems = humaneval.load_problems()
    tasks = humaneval.single_line_tasks(problems, "line", seed=0)
    assert len(problems) == 164 and len(tasks) == 1033  # the FIM paper's single-line count
    for task in tasks[:50]:
        assert task.problem is not None
        problem = problems[task.problem]
        original = problem["prompt"] + problem["canonical_solution"]
        assert task.completed(task.expected) == original
        assert task.text.startswith(problem["prompt"]) and task.expected.strip()


def test_the_sandbox_runs_the_tests_and_refuses_the_network() -> None:
    problem = humaneval.load_problems()["HumanEval/0"]
    assert sandbox.run(problem, problem["canonical_solution"], 3.0).passed
    wrong = sandbox.run(problem, "    return True\n", 3.0)
    assert not wrong.passed and wrong.detail.startswith("failed")
    assert sandbox.run(problem, "    while True:\n        pass\n", 0.5).detail == "timed out"
    network = sandbox.run(problem, "    import socket\n    socket.socket()\n", 3.0)
    assert network.detail == "failed: network access is disabled in the sc2-lsp eval sandbox"


def test_arms_layer_the_comparison_on_the_base_settings() -> None:
    arms, errors = arms_for({"model": {"path": "/m/a.gguf"}}, '{"prompt": {"tokenHealing": false}}')
    assert not errors and [arm.label for arm in arms] == ["defaults", "prompt.tokenHealing=false"]
    assert arms[0].settings.prompt.token_healing and not arms[1].settings.prompt.token_healing
    assert arms[1].settings.model.path == "/m/a.gguf"
    assert (
        not arms[0].settings.completion.cache and arms[0].settings.completion.multiline == "never"
    )
    # Nothing that depends on how fast the machine is right now: no prompt or time budget.
    assert arms[1].settings.completion.max_prompt_ms == 0
    assert arms[1].settings.completion.max_predict_ms == 120_000
    raw, _ = arms_for({}, "raw")
    assert raw[1].postprocess is False and raw[1].settings == raw[0].settings
    models, _ = arms_for({}, '{"model": {"path": "/m/b.gguf"}}')
    assert models[1].label == 'model.path="b.gguf"'
    _, errors = arms_for({}, '{"prompt": {"tokenHealing": 3}}')
    assert errors == ["prompt.tokenHealing: expected true or false, got a number"]
    for bad in ("{nope", "[1]"):
        with pytest.raises(EvalError, match="--compare"):
            arms_for({}, bad)


def outcome(task: str, exact: bool, passed: bool | None = None, ms: float = 10.0) -> Outcome:
    text = "x" if exact else "y"
    return Outcome(task, "x", text, exact, float(exact), ms, passed=passed, generated_tokens=4)


def test_reports_count_paired_differences_and_name_no_machine_paths() -> None:
    arms, _ = arms_for({"model": {"path": "/home/me/models/m.gguf"}}, "raw")
    a = [outcome(f"t{i}", i < 8, passed=i < 8, ms=10.0 * (i + 1)) for i in range(10)]
    b = [outcome(f"t{i}", i < 2, passed=i < 2) for i in range(10)]
    results = [
        report.ArmResult(arm, found, 60.0, "m.gguf")
        for arm, found in zip(arms, (a, b), strict=True)
    ]
    found = report.as_json(
        report.Report("humaneval-single-line", "line", 0, 10, None, "x", results)
    )
    first = found["arms"][0]["metrics"]
    assert first["exact_match"] == 0.8 and first["pass_at_1"] == 0.8
    assert first["latency_ms"]["p50"] == pytest.approx(55.0)
    assert found["paired"]["exact_match"] == {"only_a": 6, "only_b": 0, "p_value": 2 / 64}
    assert "/home/me" not in json.dumps(found)
    table = report.markdown(found)
    assert "| exact match | 80.0 % | 20.0 % |" in table and "p = 0.0312" in table
    assert "raw model output (no post-processing)" in table


def test_repository_tasks_are_code_lines_outside_comments_and_strings(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        '"""A module.\n\nwith prose in its docstring\n"""\n\n# a comment line\n'
        + "".join(f"value_{i} = compute({i})\n" for i in range(30))
    )
    (tmp_path / "notes.txt").write_text("not code at all\n" * 10)
    tasks = repository_tasks(tmp_path, RepoContextSettings(), "line", 12, 0)
    assert len(tasks) == 12
    assert all(task.expected.startswith("value_") and task.path.name == "a.py" for task in tasks)
    assert tasks == repository_tasks(tmp_path, RepoContextSettings(), "line", 12, 0)
    with pytest.raises(EvalError, match="no source files"):
        repository_tasks(tmp_path / "missing", RepoContextSettings(), "line", 5, 0)


@pytest.mark.parametrize("postprocess", [True, False])
async def test_an_arm_runs_its_tasks_through_the_completer(postprocess: bool) -> None:
    """The scripted model answers the masked line and goes on; only post-processing cuts it."""
    task = mask("t", Path("a.py"), SOURCE, (10, 32), "line", seed=0)
    assert task is not None

    def script(prompt: str) -> str:
        return "total = compute(x)\n    print(total)\n" if "<fim_middle>" in prompt else ""

    engine = ScriptedEngine(script=script)
    arms, _ = arms_for({}, None if postprocess else "raw")
    try:
        run = ArmRun(arms[-1], engine)
        outcomes = await run.run([task], lambda _outcome: None)
    finally:
        engine.close()
    (found,) = outcomes
    assert found.answered and found.healed == "  "  # two one-character tokens of the indent
    assert found.exact is postprocess
    assert found.text.startswith("total = compute(x)") and found.generated_tokens > 0


def test_unknown_suites_and_missing_workspaces_are_clear_errors() -> None:
    from sc2_lsp.eval.run import Plan, evaluate

    arms, _ = arms_for({}, None)
    with pytest.raises(EvalError, match="--workspace"):
        evaluate(Plan("repo", arms), print)
    with pytest.raises(EvalError, match="unknown suite"):
        evaluate(Plan("mbpp", arms), print)
