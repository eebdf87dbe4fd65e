"""Throw-away workspaces for the context tests: write a file tree, index it, close it after."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.settings import RepoContextSettings


def write_tree(root: Path, files: Mapping[str, str | bytes], leave_out: str = "") -> Path:
    """Write `files` under `root` (text without `leave_out`, a cursor marker); its real path."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace(leave_out, "") if leave_out else content)
    return root.resolve()


def indexed(root: Path, opened: list[WorkspaceIndex], **overrides: Any) -> WorkspaceIndex:
    """A started index of `root` whose first walk is done; `opened` (the `indexes` fixture)
    closes it after the test."""
    index = WorkspaceIndex([root], RepoContextSettings(**overrides))
    opened.append(index)
    index.start()
    assert index.wait_ready(30)
    return index
