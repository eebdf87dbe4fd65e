"""`RepositoryContext.refusal`: the gate the document being completed passes (secret-like
files and `completion.disabledGlobs` anywhere, ignored files inside the workspace), the same
one repository context passes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.repository import DISABLED, IGNORED, SECRET, RepositoryContext


@pytest.fixture
def context(tmp_path: Path) -> Iterator[RepositoryContext]:
    ws = tmp_path / "ws"
    (ws / "node_modules" / "lib").mkdir(parents=True)
    (ws / "src").mkdir()
    (ws / ".gitignore").write_text("dist/\n*.log\n")
    (ws / ".aiignore").write_text("billing/\n")
    (ws / ".cursorignore").write_text("*.private.py\n")
    repository = RepositoryContext()
    repository.configure([ws], RepoContextSettings(), disabled_globs=("*.md", "scratch/"))
    yield repository
    repository.close()


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("ws/src/app.py", None),
        ("ws/.env", SECRET),
        ("ws/src/.env.production", SECRET),
        ("ws/keys/server.pem", SECRET),
        ("ws/src/id_ed25519", SECRET),
        ("ws/dist/bundle.py", IGNORED),
        ("ws/run.log", IGNORED),
        ("ws/node_modules/lib/index.js", IGNORED),
        ("ws/src/app.min.js", IGNORED),  # the built-in list: minified, lock, generated files
        ("ws/billing/rates.py", IGNORED),  # .aiignore
        ("ws/src/keys.private.py", IGNORED),  # .cursorignore
        ("ws/README.md", DISABLED),
        ("ws/scratch/try.py", DISABLED),
        ("elsewhere/notes.md", DISABLED),  # disabled globs apply outside the workspace too
        ("ws/src/a\x00b.py", None),  # a NUL byte (from a %00 in a URI) is no error
        ("elsewhere/x\x00/.env", SECRET),
        ("elsewhere/app.py", None),  # outside the workspace: only secrets are refused
        ("elsewhere/dist/bundle.py", None),
        ("elsewhere/billing/rates.py", None),
        ("elsewhere/.env", SECRET),
        ("home/.ssh/config", SECRET),
        ("home/.kube/config", SECRET),  # an anchored pattern matches at any depth here
        ("home/kube/config", None),
    ],
)
def test_refusal(
    context: RepositoryContext, tmp_path: Path, relative: str, expected: str | None
) -> None:
    assert context.refusal(tmp_path / relative) == expected


def test_a_link_must_pass_both_as_written_and_as_resolved(
    context: RepositoryContext, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "prod.env").write_text("")
    (ws / "src" / "settings.py").symlink_to(tmp_path / "keys" / "prod.env")
    (tmp_path / "plain.py").write_text("")
    (ws / "src" / ".env").symlink_to(tmp_path / "plain.py")
    assert context.refusal(ws / "src" / "settings.py") == SECRET
    assert context.refusal(ws / "src" / ".env") == SECRET
    assert context.refusal(ws / "src" / ".." / ".env") == SECRET


def test_the_patterns_come_from_the_settings(context: RepositoryContext, tmp_path: Path) -> None:
    settings = dataclasses.replace(
        RepoContextSettings(), secret_patterns=("*.vault", "!.env.example", ".env*")
    )
    context.configure([tmp_path / "ws"], settings)
    assert context.refusal(tmp_path / "ws" / "src" / "db.vault") == SECRET
    assert context.refusal(tmp_path / "ws" / ".env.local") == SECRET
    assert context.refusal(tmp_path / "ws" / "server.pem") is None
    context.configure([tmp_path / "ws"], dataclasses.replace(settings, enabled=False))
    # No index: ignore files still refuse completion, and so do secrets.
    assert context.refusal(tmp_path / "ws" / "dist" / "x.py") == IGNORED
    assert context.refusal(tmp_path / "ws" / "billing" / "rates.py") == IGNORED
    assert context.refusal(tmp_path / "ws" / "a.vault") == SECRET


def test_inside_a_folder_only_the_path_below_it_is_matched(tmp_path: Path) -> None:
    """A project that lives in a folder named like a secret is not all refused."""
    ws = tmp_path / "credentials" / "secrets.d" / "project"
    ws.mkdir(parents=True)
    repository = RepositoryContext()
    repository.configure([ws], RepoContextSettings())
    try:
        assert repository.refusal(ws / "app.py") is None
        assert repository.refusal(ws / "deploy" / ".kube" / "config") == SECRET
        assert repository.refusal(tmp_path / "credentials" / "other.py") == SECRET
    finally:
        repository.close()


def test_an_ignore_file_written_later_counts_without_an_index(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    repository = RepositoryContext()
    repository.configure([ws], dataclasses.replace(RepoContextSettings(), enabled=False))
    try:
        assert repository.refusal(ws / "draft.py") is None
        (ws / ".codeiumignore").write_text("draft.py\n")
        repository.files_changed([ws / ".codeiumignore"], [], [])
        assert repository.refusal(ws / "draft.py") == IGNORED
    finally:
        repository.close()
