"""Which workspace files repository context may read, and reading them safely.

Owns confinement (a path must resolve inside a workspace root: no symlink or `..` escapes),
ignore rules (nested `.gitignore`, `.git/info/exclude`, built-in and user ignore lists, and
the AI tools' own ignore files: `.aiignore`, `.aiexclude`, `.cursorignore`, `.codeiumignore`),
secret-file refusal and the directory walk; reading a file goes through the content filters
of `source_files`.  Thread-safe: the index thread and request threads share one instance.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from pathspec import GitIgnoreSpec

from sc2_lsp.context.index.source_files import BINARY_SUFFIXES, FileText, read_source_file
from sc2_lsp.context.settings import RepoContextSettings

logger = logging.getLogger(__name__)

AI_IGNORE_FILES = (".aiignore", ".aiexclude", ".cursorignore", ".codeiumignore")
"""Ignore files that keep files away from AI tools (JetBrains, Gemini, Cursor, Codeium), in
gitignore syntax, at any depth. They only add exclusions: a `!pattern` in one of them cannot
bring back a file `.gitignore` ignores."""
IGNORE_FILES = (".gitignore", *AI_IGNORE_FILES)


class Workspace:
    """Path policy for a set of workspace roots."""

    def __init__(self, roots: Sequence[Path], settings: RepoContextSettings) -> None:
        resolved: list[Path] = []
        for root in roots:
            try:
                candidate = Path(root).resolve()
            except (OSError, RuntimeError):
                continue
            if candidate.is_dir() and candidate not in resolved:
                resolved.append(candidate)
        # Deepest first, so the root owning a path is the first that contains it.
        self.roots: tuple[Path, ...] = tuple(sorted(resolved, key=lambda p: -len(p.parts)))
        self._root_prefixes = tuple(os.path.join(os.fspath(root), "") for root in self.roots)
        self._relative: dict[Path, str] = {}
        self.settings = settings
        self._forced_spec = GitIgnoreSpec.from_lines([*settings.builtin_ignore, *settings.ignore])
        self._secret_spec = GitIgnoreSpec.from_lines(settings.secret_patterns)
        self._lock = threading.Lock()
        self._gitignore_specs: dict[Path, GitIgnoreSpec | None] = {}
        self._ai_specs: dict[Path, tuple[GitIgnoreSpec, ...]] = {}
        self._dir_ignored: dict[Path, bool] = {}
        self._allowed: dict[str, bool] = {}
        self._exclude_specs: dict[Path, GitIgnoreSpec | None] = {}
        self._git_tops: dict[Path, Path] = {root: self._rules_top(root) for root in self.roots}

    # ----------------------------------------------------------------- confinement

    def root_of(self, path: Path) -> Path | None:
        """The workspace root containing the already-resolved `path`, if any."""
        text = os.fspath(path)
        for root, prefix in zip(self.roots, self._root_prefixes, strict=True):
            if text == prefix[:-1] or text.startswith(prefix):
                return root
        return None

    def relative_path(self, path: Path) -> str:
        """Workspace-relative posix path used in prompts; prefixed by root name if several."""
        found = self._relative.get(path)
        if found is not None:
            return found
        root = self.root_of(path)
        if root is None:
            relative = path.name
        else:
            relative = path.relative_to(root).as_posix()
            if len(self.roots) > 1:
                relative = f"{root.name}/{relative}"
        if len(self._relative) > 100_000:
            self._relative.clear()
        self._relative[path] = relative
        return relative

    def is_allowed(self, path: Path) -> bool:
        """True when `path` may be read: inside a root after resolving links, not ignored/secret."""
        key = os.fspath(path)
        with self._lock:
            cached = self._allowed.get(key)
        if cached is not None:
            return cached
        verdict = self._compute_allowed(Path(path))
        with self._lock:
            if len(self._allowed) > 200_000:
                self._allowed.clear()
            self._allowed[key] = verdict
        return verdict

    def _compute_allowed(self, path: Path) -> bool:
        if not path.is_absolute():
            return False
        lexical = Path(os.path.normpath(path))
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):
            return False
        if self.root_of(resolved) is None:
            return False
        candidates = [resolved]
        if lexical != resolved and self.root_of(lexical) is not None:
            candidates.append(lexical)
        return not any(self.is_excluded(candidate, is_dir=False) for candidate in candidates)

    def forget(self, path: Path | None = None) -> None:
        """Drop cached verdicts (all of them, or those a changed ignore file may affect)."""
        with self._lock:
            self._allowed.clear()
            self._dir_ignored.clear()
            if path is not None:
                self._gitignore_specs.pop(path.parent, None)
                self._ai_specs.pop(path.parent, None)
                self._exclude_specs.clear()
            else:
                self._gitignore_specs.clear()
                self._ai_specs.clear()
                self._exclude_specs.clear()

    # ----------------------------------------------------------------- ignore rules

    def is_excluded(self, path: Path, *, is_dir: bool) -> bool:
        """Ignored, secret-like or outside the roots; `path` must be absolute and normalised."""
        root = self.root_of(path)
        if root is None:
            return True
        if path == root:
            return False
        relative = path.relative_to(root).as_posix()
        probe = relative + "/" if is_dir else relative
        if self._forced_spec.match_file(probe) or self._secret_spec.match_file(probe):
            return True
        git_top = self._git_tops.get(root, root)
        parent = path.parent
        if parent != root and root in parent.parents and self._directory_ignored(parent, root):
            return True
        return self._gitignore_says(
            path, is_dir=is_dir, git_top=git_top, root=root
        ) or self._ai_ignore_says(path, is_dir=is_dir, git_top=git_top, root=root)

    def _rules_top(self, root: Path) -> Path:
        """Where the ignore rules that apply to `root` start: its repository's top, or itself.

        A folder its enclosing repository ignores (a vendored package, a checkout inside an
        ignored directory) was still opened on purpose: that repository's rules would hide all
        of it, so it is indexed on its own `.gitignore` files only.
        """
        top = _git_toplevel(root)
        if top == root:
            return root
        for directory in _directories_between(top, root)[1:]:
            if self._gitignore_says(directory, is_dir=True, git_top=top, root=top):
                return root
        return top

    def _directory_ignored(self, directory: Path, root: Path) -> bool:
        with self._lock:
            known = self._dir_ignored.get(directory)
        if known is not None:
            return known
        parent = directory.parent
        ignored = False
        if parent != root and root in parent.parents:
            ignored = self._directory_ignored(parent, root)
        if not ignored:
            ignored = self.is_excluded(directory, is_dir=True)
        with self._lock:
            self._dir_ignored[directory] = ignored
        return ignored

    def _gitignore_says(self, path: Path, *, is_dir: bool, git_top: Path, root: Path) -> bool:
        # Git precedence: info/exclude lowest, then .gitignore files from the top down; the
        # last file with a matching pattern decides.
        decision = False
        exclude = self._exclude_spec(git_top)
        if exclude is not None:
            verdict = _check(exclude, _relative_probe(path, git_top, is_dir))
            if verdict is not None:
                decision = verdict
        for directory in _directories_between(_rules_base(git_top, root), path.parent):
            spec = self._gitignore_spec(directory)
            if spec is None:
                continue
            verdict = _check(spec, _relative_probe(path, directory, is_dir))
            if verdict is not None:
                decision = verdict
        return decision

    def _ai_ignore_says(self, path: Path, *, is_dir: bool, git_top: Path, root: Path) -> bool:
        """What the AI ignore files from the rules' top down to `path` say, deepest last."""
        decision = False
        for directory in _directories_between(_rules_base(git_top, root), path.parent):
            for spec in self._ai_ignore_specs(directory):
                verdict = _check(spec, _relative_probe(path, directory, is_dir))
                if verdict is not None:
                    decision = verdict
        return decision

    def _ai_ignore_specs(self, directory: Path) -> tuple[GitIgnoreSpec, ...]:
        with self._lock:
            if directory in self._ai_specs:
                return self._ai_specs[directory]
        loaded = (_load_spec(directory / name) for name in AI_IGNORE_FILES)
        specs = tuple(spec for spec in loaded if spec is not None)
        with self._lock:
            self._ai_specs[directory] = specs
        return specs

    def _gitignore_spec(self, directory: Path) -> GitIgnoreSpec | None:
        with self._lock:
            if directory in self._gitignore_specs:
                return self._gitignore_specs[directory]
        spec = _load_spec(directory / ".gitignore")
        with self._lock:
            self._gitignore_specs[directory] = spec
        return spec

    def _exclude_spec(self, git_top: Path) -> GitIgnoreSpec | None:
        with self._lock:
            if git_top in self._exclude_specs:
                return self._exclude_specs[git_top]
        spec = _load_spec(git_top / ".git" / "info" / "exclude")
        with self._lock:
            self._exclude_specs[git_top] = spec
        return spec

    # ----------------------------------------------------------------- walking

    def walk(self) -> Iterator[Path]:
        """Yield every candidate file under the roots, depth-first, pruning ignored directories.

        Symlinks are never followed: a link inside the tree names a file the walk reaches
        anyway, and one pointing outside must not be read.
        """
        seen_roots: set[Path] = set()
        for root in sorted(self.roots, key=lambda p: len(p.parts)):
            if any(parent in seen_roots for parent in root.parents):
                continue
            seen_roots.add(root)
            yield from self._walk_directory(root)

    def walk_under(self, directory: Path) -> Iterator[Path]:
        """Yield candidate files under one directory of the workspace (after an ignore change)."""
        try:
            resolved = directory.resolve()
        except (OSError, RuntimeError):
            return
        root = self.root_of(resolved)
        if root is None or (resolved != root and self._directory_ignored(resolved, root)):
            return
        yield from self._walk_directory(resolved)

    def _walk_directory(self, top: Path) -> Iterator[Path]:
        pending = [top]
        while pending:
            directory = pending.pop()
            try:
                with os.scandir(directory) as scan:
                    entries = sorted(scan, key=lambda entry: entry.name)
            except OSError:
                continue
            subdirectories: list[Path] = []
            for entry in entries:
                try:
                    if entry.is_symlink():
                        continue
                    entry_path = directory / entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name == ".git" or self.is_excluded(entry_path, is_dir=True):
                            continue
                        subdirectories.append(entry_path)
                    elif entry.is_file(follow_symlinks=False) and self.worth_reading(
                        entry_path, entry.stat(follow_symlinks=False)
                    ):
                        yield entry_path
                except OSError:
                    continue
            pending.extend(reversed(subdirectories))

    def worth_reading(self, path: Path, info: os.stat_result) -> bool:
        """Cheap pre-read filter: size, binary extension, ignore/secret rules."""
        if info.st_size > self.settings.max_file_bytes:
            return False
        if path.suffix.lower() in BINARY_SUFFIXES:
            return False
        return not self.is_excluded(path, is_dir=False)

    # ----------------------------------------------------------------- reading

    def read(self, path: Path) -> FileText | None:
        """Read an allowed regular file as text, or None if refused by any filter.

        Containment is checked again against the file as it is now: a cached verdict may
        predate a link created since.
        """
        if not self.is_allowed(path):
            return None
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if self.root_of(resolved) is None or self.is_excluded(resolved, is_dir=False):
            return None
        return read_source_file(resolved, self.settings)

    def forget_verdicts(self) -> None:
        """Drop cached allow/deny answers (files were created or deleted)."""
        with self._lock:
            self._allowed.clear()


# --------------------------------------------------------------------- helpers


def _rules_base(git_top: Path, root: Path) -> Path:
    """Where ignore files start to count for a path in `root`: its repository's top or itself."""
    return git_top if (git_top == root or git_top in root.parents) else root


def _git_toplevel(root: Path) -> Path:
    for candidate in (root, *root.parents):
        if (candidate / ".git").exists():
            return candidate
    return root


def _load_spec(path: Path) -> GitIgnoreSpec | None:
    try:
        if not path.is_file():
            return None
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    try:
        return GitIgnoreSpec.from_lines(lines)
    except Exception:  # a malformed ignore file must not stop indexing
        logger.debug("unparsable ignore file %s", path, exc_info=True)
        return None


def _check(spec: GitIgnoreSpec, probe: str) -> bool | None:
    result = spec.check_file(probe)
    include = result.include
    return None if include is None else bool(include)


def _relative_probe(path: Path, base: Path, is_dir: bool) -> str:
    relative = PurePosixPath(path.relative_to(base).as_posix()).as_posix()
    return relative + "/" if is_dir else relative


def _directories_between(base: Path, directory: Path) -> list[Path]:
    """`base`, then each directory down to and including `directory` (which is under base)."""
    chain: list[Path] = []
    current = directory
    while current != base and base in current.parents:
        chain.append(current)
        current = current.parent
    chain.append(base)
    chain.reverse()
    return chain
