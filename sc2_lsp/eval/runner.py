"""One arm of an evaluation: every task through the real completion path under one setting.

A task becomes the request an editor would send (the masked document, the cursor, invoked),
answered by the same `Completer`, prompt builder, supervised engine and post-processing as
`sc2-lsp complete`. An arm without post-processing keeps the model's text as generated
(healed text taken off) to show what post-processing is worth.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sc2_lsp import healing
from sc2_lsp.completer import Completer
from sc2_lsp.config import Settings
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.documents import Cursor, Snapshot
from sc2_lsp.engine import CancelToken, Engine, Generation
from sc2_lsp.eval.sandbox import Verdict
from sc2_lsp.eval.tasks import Task, edit_similarity, exact_match
from sc2_lsp.prompting import Prepared, Request
from sc2_lsp.repository import RepositoryContext


@dataclass(frozen=True, slots=True)
class Arm:
    label: str
    settings: Settings
    postprocess: bool = True
    """False: the model's text as generated, run to its token cap, with no post-processing (no
    early stop at the line or block end, no cut, no indentation fix, no suffix trimming)."""


@dataclass(slots=True)
class Outcome:
    task: str
    expected: str
    text: str
    exact: bool
    similarity: float
    ms: float
    """Wall time from the request to the suggestion: prompt building, context, generation."""
    answered: bool = True
    """False when the engine could not run the request (it was restarting after a crash)."""
    healed: str = ""
    prompt_tokens: int = 0
    context_tokens: int = 0
    """Of the prompt, the repository context (`<repo_name>`, other files)."""
    evaluated_tokens: int = 0
    generated_tokens: int = 0
    prompt_seconds: float = 0.0
    generate_seconds: float = 0.0
    stop_reason: str = ""
    passed: bool | None = None
    execution: str | None = None
    """The harness's verdict ("passed", "failed: …", "timed out") where tests were run."""


Execute = Callable[[Task, str], Verdict]
Progress = Callable[[Outcome], None]


@dataclass
class ArmRun:
    """Runs tasks for one arm; executions overlap the next generations on one worker thread."""

    arm: Arm
    engine: Engine
    repository: RepositoryContext | None = None
    root: Path | None = None
    execute: Execute | None = None

    async def run(self, tasks: list[Task], progress: Progress) -> list[Outcome]:
        provider = self.repository.provide if self.repository is not None else None
        completer = Completer(self.engine, provider)
        outcomes = []
        verdicts: list[tuple[Outcome, Future[Verdict]]] = []
        with ThreadPoolExecutor(1, thread_name_prefix="sc2-eval-exec") as pool:
            for task in tasks:
                outcome = await self._one(task, completer)
                if self.execute is not None:
                    verdicts.append((outcome, pool.submit(self.execute, task, outcome.text)))
                outcomes.append(outcome)
                progress(outcome)
            for outcome, verdict in verdicts:
                outcome.passed, outcome.execution = verdict.result().passed, verdict.result().detail
        return outcomes

    async def _one(self, task: Task, completer: Completer) -> Outcome:
        request = _request(task, self.root)
        path = request.snapshot.path
        if self.repository is not None and path is not None:
            self.repository.recent = RecentEdits()  # the last task's text is no recent edit
            self.repository.opened(path, task.text, task.language_id)
        started = time.monotonic()
        try:
            text, generation, prepared = await self._complete(request, completer)
        finally:
            if self.repository is not None and path is not None:
                self.repository.closed(path)
        outcome = Outcome(
            task.id,
            task.expected,
            text,
            exact_match(text, task.expected),
            edit_similarity(text, task.expected),
            (time.monotonic() - started) * 1000,
            answered=generation is not None,
        )
        if generation is not None:
            _record(outcome, generation)
        if prepared is not None:
            outcome.healed = prepared.params.healed
            outcome.context_tokens = prepared.prompt.tokens_of("context", "repo")
        return outcome

    async def _complete(
        self, request: Request, completer: Completer
    ) -> tuple[str, Generation | None, Prepared | None]:
        """The suggestion for one request, with its generation and prompt."""
        settings = self.arm.settings
        if self.arm.postprocess:
            suggestion = await completer.complete(request, settings)
            if suggestion is None:
                return "", None, None
            return suggestion.text, suggestion.generation, suggestion.prepared
        prepared = completer.prepare(request, settings)
        if prepared is None:
            return "", None, None
        future = self.engine.generate(prepared.prompt.tokens, prepared.params, CancelToken())
        generation = await asyncio.wrap_future(future)
        return healing.strip(generation.text, prepared.params.healed), generation, prepared


def _request(task: Task, root: Path | None) -> Request:
    path = task.path if task.path.is_absolute() else Path("/", task.path)
    text, offset = task.text, task.offset
    line_start = text.rfind("\n", 0, offset) + 1
    cursor = Cursor(offset, text.count("\n", 0, offset), offset - line_start)
    snapshot = Snapshot(path.as_uri(), None, task.language_id, text)
    return Request(snapshot, cursor, root, "invoked")


def _record(outcome: Outcome, generation: Generation) -> None:
    outcome.answered = generation.stop_reason != "unavailable"
    outcome.prompt_tokens = generation.n_prompt
    outcome.evaluated_tokens = generation.n_evaluated
    outcome.generated_tokens = len(generation.tokens)
    outcome.prompt_seconds = generation.prompt_seconds
    outcome.generate_seconds = generation.generate_seconds
    outcome.stop_reason = generation.stop_reason
