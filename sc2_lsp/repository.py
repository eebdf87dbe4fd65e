"""Repository context for completions: the workspace index's lifecycle and the completer's hook.

`RepositoryContext` owns one `WorkspaceIndex` over the workspace folders (rebuilt when the
folders or the `repository` settings change), the ring of recent edits, and the view of open
editor buffers. Its `provide` method is the completer's `ContextProvider`: it turns the
snippets `gather` picks into the `ContextFile`s the prompt renders, and remembers them so
`sc2-lsp prompt --explain` can show where each came from.

The context sits first in the prompt, so any change to it throws away the KV cache of
everything after it: the whole file window. `provide` therefore holds its selection while
the user keeps typing in one place (same document, within `HOLD_LINES` of where it was
chosen, no other file changed, still within budget) and chooses afresh only when they move
away or the repository changes.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePath

from pathspec import GitIgnoreSpec

from sc2_lsp.context.index import Workspace, WorkspaceIndex
from sc2_lsp.context.retrieval.focus import ContextRequest
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.context.retrieval.retrieve import Snippet, gather
from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.documents import Snapshot
from sc2_lsp.languages import language_for
from sc2_lsp.prompt import ContextFile
from sc2_lsp.prompting import Request

log = logging.getLogger(__name__)

HOLD_LINES = 24
"""How far the cursor may move from where the context was chosen before it is chosen again."""
HOLD_SLACK = 16
"""A fresh selection leaves 1/16 of its budget free, so the held one still fits as the file
window's token count wobbles by a line."""

SECRET = "secret-like file (repository.secretPatterns)"
IGNORED = (
    "ignored file (.gitignore, .aiignore, .aiexclude, .cursorignore, .codeiumignore, "
    "repository.ignore or the built-in ignore list)"
)
DISABLED = "disabled by completion.disabledGlobs"


@dataclasses.dataclass(frozen=True, slots=True)
class _Held:
    path: Path
    line: int
    snippets: tuple[Snippet, ...]
    tokens: int
    own: str
    """The document's path as snippets name it: its own snippets must not repeat the window."""


class RepositoryContext:
    """Everything repository-wide that completions draw on. Thread-safe."""

    def __init__(self, settings: RepoContextSettings | None = None, hold: bool = True) -> None:
        """`hold`: keep a selection across nearby requests (a server); off for one-off prompts."""
        self.settings = settings or RepoContextSettings()
        self.hold = hold
        self.recent = RecentEdits(self.settings.recent_chunk_lines, self.settings.recent_max_chunks)
        self.index: WorkspaceIndex | None = None
        self.policy: Workspace | None = None
        """Which files are ignored, also while indexing is off (the index's own when on)."""
        self.roots: tuple[Path, ...] = ()
        self.disabled_globs: tuple[str, ...] = ()
        self.last_snippets: list[Snippet] = []
        self._held: _Held | None = None
        self._open: dict[Path, str] = {}
        self._lock = threading.Lock()

    def configure(
        self,
        roots: Sequence[Path],
        settings: RepoContextSettings,
        disabled_globs: tuple[str, ...] = (),
    ) -> None:
        """(Re)build the index when the folders or the settings changed; a no-op otherwise.

        `disabled_globs` (`completion.disabledGlobs`) are ignored like `repository.ignore`,
        and refused completion anywhere."""
        roots = tuple(dict.fromkeys(root.resolve() for root in roots))
        settings = dataclasses.replace(settings, ignore=(*settings.ignore, *disabled_globs))
        unchanged = roots == self.roots and settings == self.settings
        if unchanged and (self.index is not None or self.policy is not None):
            return
        self.close()
        self.settings, self.roots, self.disabled_globs = settings, roots, disabled_globs
        if not roots:
            return
        if not settings.enabled:
            self.policy = Workspace(roots, settings)
            return
        index = WorkspaceIndex(roots, settings)
        index.start()
        with self._lock:
            self.index, self.policy = index, index.workspace
            open_paths = list(self._open)
        for path in open_paths:
            index.document_changed(path, self._open[path])
        log.info("indexing %s", ", ".join(str(root) for root in roots))

    def close(self) -> None:
        with self._lock:
            index, self.index, self.policy = self.index, None, None
            self._held = None
        if index is not None:
            index.close()

    def opened(self, path: Path, text: str, language_id: str | None) -> None:
        with self._lock:
            self._open[path] = text
            index = self.index
            self._release_unless(path)
        self.recent.opened(path)
        if index is not None:
            index.document_changed(path, text, language_id)

    def changed(
        self, path: Path, text: str, language_id: str | None, edit_offsets: Sequence[int]
    ) -> None:
        with self._lock:
            self._open[path] = text
            index = self.index
            self._release_unless(path)
        for offset in edit_offsets:
            self.recent.record(path, text, offset)
        if index is not None:
            index.document_changed(path, text, language_id)

    def closed(self, path: Path) -> None:
        with self._lock:
            self._open.pop(path, None)
            index = self.index
            self._release_unless(path)
        if index is not None:
            index.document_closed(path)

    def files_changed(
        self, created: Sequence[Path], changed: Sequence[Path], deleted: Sequence[Path]
    ) -> None:
        with self._lock:
            index, policy = self.index, self.policy
            self._held = None
        if index is not None:
            index.files_changed(created, changed, deleted)
        elif policy is not None:  # no index to do it: ignore files may have changed
            policy.forget()

    def status(self, details: bool = True) -> dict[str, object]:
        """The index's state; with `details`, its counts too (O(files): not per keystroke)."""
        index = self.index
        if index is None:
            return {"state": "off" if not self.settings.enabled else "no workspace"}
        state = "ready" if index.walk_complete else "indexing"
        return {"state": state, **(dataclasses.asdict(index.stats) if details else {})}

    def refusal(self, path: Path) -> str | None:
        """Why the document at `path` gets no completion at all, or None when it may.

        It passes the gate repository context passes: a secret-like file or one that
        `completion.disabledGlobs` names is refused in or out of the workspace, an ignored
        one (`.gitignore`, the AI tools' ignore files, ...) inside a workspace folder. Inside a
        folder the secret patterns match the path below it, elsewhere the whole path, and at
        any depth (`.kube/config` too), so `.env`, `~/.ssh/id_rsa` or `keys/x.pem` opened
        from anywhere count. The path as written and the file a link points to must both pass.
        """
        spec = _secret_spec(self.settings.secret_patterns)
        disabled = _glob_spec(self.disabled_globs)
        policy = self.policy
        verdicts = []
        for candidate in dict.fromkeys([Path(os.path.normpath(path)), _resolved(path)]):
            root = max(
                (root for root in self.roots if candidate.is_relative_to(root)),
                key=lambda root: len(root.parts),
                default=None,
            )
            seen_as = candidate.relative_to(root) if root else candidate
            if _matches(spec, seen_as):
                return SECRET
            if _matches(disabled, seen_as):
                return DISABLED
            if root is not None and policy is not None:
                verdicts.append(policy.is_excluded(candidate, is_dir=False))
        return IGNORED if any(verdicts) else None

    def open_documents(self) -> Mapping[Path, str]:
        with self._lock:
            return dict(self._open)

    def provide(
        self,
        request: Request,
        window: tuple[int, int],
        budget: int,
        count_tokens: Callable[[str], int],
    ) -> list[ContextFile]:
        """Context files for one completion, most stable first, within `budget` tokens."""
        index = self.index
        path = request.snapshot.path
        if index is None or path is None or budget <= 0:
            self.last_snippets = []
            return []
        snapshot = request.snapshot
        line = request.cursor.line  # the document's line, also when seen through a view
        snippets = self._held_snippets(path, line, budget, index.walk_complete, snapshot, window)
        if snippets is None:
            context_request = ContextRequest(
                path=path,
                language=language_for(snapshot.language_id, str(path)),
                text=snapshot.text,
                offset=request.cursor.offset,
                window_start=window[0],
                window_end=window[1],
                open_documents=self.open_documents(),
            )
            snippets = gather(
                index, context_request, self.recent, budget - budget // HOLD_SLACK, count_tokens
            )
            held = _Held(
                path,
                line,
                tuple(snippets),
                sum(snippet.tokens for snippet in snippets),
                index.workspace.relative_path(path),
            )
            if not request.speculative:  # a prefetched state must not move what typing keeps
                with self._lock:
                    self._held = held
        self.last_snippets = snippets
        return [ContextFile(snippet.path, snippet.text) for snippet in snippets]

    def _held_snippets(
        self,
        path: Path,
        line: int,
        budget: int,
        settled: bool,
        snapshot: Snapshot,
        window: tuple[int, int],
    ) -> list[Snippet] | None:
        """The held selection if it still applies here; None to choose afresh.

        A snippet of the document itself that the moved file window now shows is left out,
        rather than choosing afresh: everything before it keeps its KV cache.
        """
        with self._lock:
            held = self._held
        if (
            held is None
            or not self.hold
            or not settled  # the index is still walking: better context may have appeared
            or held.path != path
            or abs(line - held.line) > HOLD_LINES
            or held.tokens > budget
        ):
            return None
        if all(snippet.path != held.own for snippet in held.snippets):
            return list(held.snippets)
        shown = snapshot.text[window[0] : window[1]]
        return [
            snippet
            for snippet in held.snippets
            if snippet.path != held.own or snippet.text.strip() not in shown
        ]

    def _release_unless(self, path: Path) -> None:
        """Another file changed: the held selection may show stale code. Caller holds the lock."""
        if self._held is not None and self._held.path != path:
            self._held = None


@functools.lru_cache(maxsize=4)
def _secret_spec(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    """`patterns` made to match at any depth: an anchored one (`.kube/config`) gets `**/`."""
    return GitIgnoreSpec.from_lines(_at_any_depth(pattern) for pattern in patterns)


def _at_any_depth(pattern: str) -> str:
    negated, body = (pattern[:1], pattern[1:]) if pattern.startswith("!") else ("", pattern)
    if "/" in body.rstrip("/") and not body.startswith("**/"):
        body = "**/" + body.lstrip("/")
    return negated + body


@functools.lru_cache(maxsize=4)
def _glob_spec(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    return GitIgnoreSpec.from_lines(patterns)


def _matches(spec: GitIgnoreSpec, path: PurePath) -> bool:
    """Whether `spec` matches `path` (workspace-relative, or from its root)."""
    return bool(spec.match_file("/".join(part for part in path.parts if part != path.anchor)))


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL byte in the path
        return Path(os.path.normpath(path))
