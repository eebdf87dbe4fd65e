"""Workspace walking, ignore rules, confinement, content filters and incremental index updates."""

from __future__ import annotations

import time
from pathlib import Path

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.index.workspace import Workspace
from sc2_lsp.context.settings import RepoContextSettings
from tests.workspaces import indexed, write_tree

FAKE_KEY = "AKIAFAKEFAKEFAKEFAKE"


def walked(workspace: Workspace) -> set[str]:
    return {path.relative_to(workspace.roots[0]).as_posix() for path in workspace.walk()}


def indexed_paths(index: WorkspaceIndex, root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in (root.rglob("*"))
        if index.record(path) is not None
    }


# ------------------------------------------------------------------------------ ignore rules


def test_nested_gitignore_negation_exclude_file_and_settings(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            ".git/info/exclude": "local-notes.md\n",
            ".gitignore": "*.log\nbuild/\n/top-only.py\n",
            "app/.gitignore": "!keep.log\ncache/\n",
            "app/keep.log": "kept\n",
            "app/drop.log": "dropped\n",
            "app/cache/x.py": "x = 1\n",
            "app/top-only.py": "nested path is not anchored to the root\n",
            "top-only.py": "anchored\n",
            "build/out.py": "generated = 1\n",
            "local-notes.md": "mine\n",
            "node_modules/dep/index.js": "module.exports = 1\n",
            "tmp/scratch.py": "s = 1\n",
            "src/main.py": "print(1)\n",
        },
    )
    workspace = Workspace([root], RepoContextSettings(ignore=("tmp/",)))
    assert walked(workspace) == {
        ".gitignore",
        "app/.gitignore",
        "app/keep.log",
        "app/top-only.py",
        "src/main.py",
    }
    assert not workspace.is_allowed(root / "app" / "cache" / "x.py")
    assert not workspace.is_allowed(root / "build" / "out.py")
    assert workspace.is_allowed(root / "app" / "keep.log")


def test_gitignore_above_a_workspace_folder_applies(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {".git/HEAD": "ref\n", ".gitignore": "*.tmp\n", "pkg/a.py": "a = 1\n", "pkg/b.tmp": "b\n"},
    )
    workspace = Workspace([repo / "pkg"], RepoContextSettings())
    assert walked(workspace) == {"a.py"}


def test_a_workspace_folder_its_repository_ignores_keeps_its_own_rules(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            ".git/HEAD": "ref\n",
            ".gitignore": "vendor/\n*.tmp\n",
            "vendor/lib/a.py": "a = 1\n",
            "vendor/lib/b.tmp": "b\n",
            "vendor/lib/.gitignore": "out/\n",
            "vendor/lib/out/c.py": "c = 1\n",
            "vendor/lib/node_modules/d.js": "d\n",
        },
    )
    workspace = Workspace([repo / "vendor" / "lib"], RepoContextSettings())
    assert walked(workspace) == {".gitignore", "a.py", "b.tmp"}
    assert workspace.is_allowed(repo / "vendor" / "lib" / "a.py")


SECRETS = {
    ".env": f"AWS_SECRET_ACCESS_KEY={FAKE_KEY}\n",
    ".env.local": f"KEY={FAKE_KEY}\n",
    "config/prod.env": f"KEY={FAKE_KEY}\n",
    "deploy/id_rsa": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{FAKE_KEY}\n",
    "deploy/id_ed25519.pub": f"ssh-ed25519 {FAKE_KEY}\n",
    "certs/server.pem": f"-----BEGIN PRIVATE KEY-----\n{FAKE_KEY}\n",
    "certs/server.key": f"{FAKE_KEY}\n",
    "certs/client.p12": f"{FAKE_KEY}\n",
    "credentials.json": f'{{"key": "{FAKE_KEY}"}}\n',
    "gcp/credentials-prod.json": f'{{"key": "{FAKE_KEY}"}}\n',
    ".netrc": f"machine x login y password {FAKE_KEY}\n",
    ".npmrc": f"//registry/:_authToken={FAKE_KEY}\n",
    "home/.aws/credentials": f"aws_secret_access_key={FAKE_KEY}\n",
    "home/.ssh/config": f"IdentityFile {FAKE_KEY}\n",
}


def test_secret_like_files_are_never_walked_allowed_or_indexed(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(tmp_path, {**SECRETS, "src/app.py": "import os\n"})
    index = indexed(root, indexes)
    assert walked(index.workspace) == {"src/app.py"}
    for relative in SECRETS:
        assert not index.is_allowed(root / relative), relative
        assert index.record(root / relative) is None
        assert index.read_text(root / relative) is None
    index.document_changed(root / ".env", f"KEY={FAKE_KEY}\n", "dotenv")
    index.files_changed([root / "credentials.json"], [root / ".netrc"], [])
    assert index.wait_ready(10)
    assert index.record(root / ".env") is None
    assert index.record(root / "credentials.json") is None


def test_secret_patterns_are_configurable(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"vault.yaml": "token: x\n", ".env": "A=1\n"})
    workspace = Workspace([root], RepoContextSettings(secret_patterns=("vault.yaml",)))
    assert walked(workspace) == {".env"}


# ----------------------------------------------------------------------------- confinement


def test_links_and_dotdot_paths_never_escape_the_workspace(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    outside = write_tree(
        tmp_path / "outside", {"leak.py": "def leaked():\n    pass\n", "dir/x.py": "y = 2\n"}
    )
    root = write_tree(tmp_path / "ws", {"src/real.py": "def real():\n    pass\n"})
    (root / "src" / "file_link.py").symlink_to(outside / "leak.py")
    (root / "dir_link").symlink_to(outside / "dir", target_is_directory=True)
    (root / "src" / "inner_link.py").symlink_to(root / "src" / "real.py")
    index = indexed(root, indexes)

    assert walked(index.workspace) == {"src/real.py"}
    assert index.definitions_named("leaked") == []
    assert not index.is_allowed(root / "src" / "file_link.py")
    assert not index.is_allowed(root / "dir_link" / "x.py")
    assert not index.is_allowed(root / ".." / "outside" / "leak.py")
    assert not index.is_allowed(Path("src/real.py"))
    assert index.is_allowed(root / "src" / ".." / "src" / "real.py")
    assert index.is_allowed(root / "src" / "inner_link.py")
    assert index.read_text(root / "src" / "file_link.py") is None

    index.document_changed(root / "src" / "file_link.py", "def leaked():\n    pass\n")
    index.files_changed([root / "dir_link" / "x.py", root / ".." / "outside" / "leak.py"], [], [])
    assert index.wait_ready(10)
    assert index.definitions_named("leaked") == []
    assert index.record(outside / "leak.py") is None


def test_a_file_swapped_for_an_outside_link_is_not_read(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    outside = write_tree(tmp_path / "outside", {"leak.py": "def leaked():\n    pass\n"})
    root = write_tree(tmp_path / "ws", {"a.py": "def fine():\n    pass\n"})
    index = indexed(root, indexes)
    assert index.is_allowed(root / "a.py")
    (root / "a.py").unlink()
    (root / "a.py").symlink_to(outside / "leak.py")
    assert index.read_text(root / "a.py") is None
    index.files_changed([], [root / "a.py"], [])
    assert index.wait_ready(10)
    assert index.definitions_named("leaked") == []


# ---------------------------------------------------------------------------- content filters


def test_binary_large_minified_and_generated_files_are_skipped(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(
        tmp_path,
        {
            "ok.py": "def ok():\n    pass\n",
            "blob.py": b"def x():\x00\x01\x02 pass\n",
            "image.png": b"\x89PNG....",
            "huge.py": "def huge():\n    pass\n" + "# padding\n" * 2000,
            "bundle.js": "function a(){return 1};" * 200 + "\n",
            "app.min.js": "var a=1;\n",
            "api_pb2.py": "class Api:\n    pass\n",
            "gen.go": (
                "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage gen\nfunc Gen() {}\n"
            ),
        },
    )
    index = indexed(root, indexes, max_file_bytes=10_000)
    assert index.definitions_named("ok")
    for name in ("x", "huge", "a", "Api", "Gen"):
        assert index.definitions_named(name) == [], name
    assert index.record(root / "image.png") is None
    assert index.record(root / "bundle.js") is None


# ----------------------------------------------------------------------------- incremental


def test_editor_and_watcher_events_update_only_the_named_files(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(
        tmp_path, {"a.py": "def alpha():\n    pass\n", "b.py": "def beta():\n    pass\n"}
    )
    index = indexed(root, indexes)
    assert [r.path.name for r, _ in index.definitions_named("alpha")] == ["a.py"]

    index.document_changed(root / "a.py", "def alpha_renamed():\n    pass\n", "python")
    assert index.wait_ready(10)
    assert index.definitions_named("alpha") == []
    assert index.definitions_named("alpha_renamed")

    index.document_closed(root / "a.py")
    assert index.wait_ready(10)
    assert index.definitions_named("alpha")

    (root / "c.py").write_text("def gamma():\n    pass\n")
    (root / "b.py").write_text("def beta_two():\n    pass\n")
    index.files_changed([root / "c.py"], [root / "b.py"], [])
    assert index.wait_ready(10)
    assert index.definitions_named("gamma")
    assert index.definitions_named("beta_two")
    assert index.definitions_named("beta") == []

    (root / "c.py").unlink()
    index.files_changed([], [], [root / "c.py"])
    assert index.wait_ready(10)
    assert index.definitions_named("gamma") == []
    assert index.stats.files == 2


def test_a_buffer_closed_unmodified_is_not_parsed_again(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(tmp_path, {"a.py": "def alpha():\n    pass\n"})
    index = indexed(root, indexes)
    before = index.record(root / "a.py")
    index.document_changed(root / "a.py", "def alpha():\n    pass\n", "python")
    index.document_closed(root / "a.py")
    assert index.wait_ready(10)
    assert index.record(root / "a.py") is before


def test_created_directories_are_indexed_and_created_links_are_not(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    outside = write_tree(tmp_path / "outside", {"leak.py": "def leaked():\n    pass\n"})
    root = write_tree(tmp_path / "ws", {"a.py": "def alpha():\n    pass\n"})
    index = indexed(root, indexes)
    write_tree(root, {"new/pkg/mod.py": "def fresh():\n    pass\n", "new/.env": "K=1\n"})
    (root / "linked.py").symlink_to(outside / "leak.py")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    index.files_changed([root / "new", root / "linked.py", root / "linked_dir"], [], [])
    assert index.wait_ready(10)
    assert index.definitions_named("fresh")
    assert index.record(root / "new" / ".env") is None
    assert index.definitions_named("leaked") == []
    assert index.stats.files == 2

    index.files_changed([], [], [root / "new"])
    assert index.wait_ready(10)
    assert index.definitions_named("fresh") == []


def test_gitignore_change_drops_newly_ignored_files(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(
        tmp_path,
        {"gen/out.py": "def generated_thing():\n    pass\n", "src/a.py": "def a():\n    pass\n"},
    )
    index = indexed(root, indexes)
    assert index.definitions_named("generated_thing")
    (root / ".gitignore").write_text("gen/\n")
    index.files_changed([root / ".gitignore"], [], [])
    assert index.wait_ready(10)
    assert index.definitions_named("generated_thing") == []
    assert not index.is_allowed(root / "gen" / "out.py")
    (root / ".gitignore").write_text("")
    index.files_changed([], [root / ".gitignore"], [])
    assert index.wait_ready(10)
    assert index.definitions_named("generated_thing")


def test_start_returns_at_once_and_close_stops_promptly(tmp_path: Path) -> None:
    files = {f"pkg{i // 50}/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(400)}
    root = write_tree(tmp_path, files)
    index = WorkspaceIndex([root], RepoContextSettings())
    started = time.monotonic()
    index.start()
    assert time.monotonic() - started < 0.5
    index.close()
    assert time.monotonic() - started < 5


def test_max_files_caps_the_walk(tmp_path: Path, indexes: list[WorkspaceIndex]) -> None:
    root = write_tree(tmp_path, {f"m{i:03}.py": f"def f{i}():\n    pass\n" for i in range(30)})
    index = indexed(root, indexes, max_files=10)
    assert index.stats.files == 10
    assert index.stats.walk_complete


def test_stats_report_files_definitions_and_memory(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(tmp_path, {"a.py": "def a():\n    pass\nclass B:\n    def c(self): ...\n"})
    stats = indexed(root, indexes).stats
    assert (stats.files, stats.parsed_files, stats.definitions) == (1, 1, 3)
    assert stats.approx_bytes > 0


def test_ai_ignore_files_add_exclusions_at_any_depth(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            ".gitignore": "build/\n",
            ".aiignore": "secrets_dir/\n",
            ".cursorignore": "*.private.py\n",
            "app/.aiexclude": "internal.py\n",
            "app/.codeiumignore": "drafts/\n",
            "app/internal.py": "x = 1\n",
            "app/public.py": "x = 1\n",
            "app/drafts/d.py": "x = 1\n",
            "app/keys.private.py": "x = 1\n",
            "secrets_dir/a.py": "x = 1\n",
            "build/.aiignore": "!*\n",
            "build/out.py": "x = 1\n",
            "main.py": "x = 1\n",
        },
    )
    workspace = Workspace([root], RepoContextSettings())
    assert walked(workspace) == {
        ".aiignore",
        ".cursorignore",
        ".gitignore",
        "app/.aiexclude",
        "app/.codeiumignore",
        "app/public.py",
        "main.py",
    }
    # A negation in an AI ignore file cannot bring back what .gitignore ignores.
    assert not workspace.is_allowed(root / "build" / "out.py")


def test_an_ai_ignore_file_change_drops_newly_ignored_files(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(tmp_path, {"pay/rates.py": "def secret_rate():\n    pass\n"})
    index = indexed(root, indexes)
    assert index.definitions_named("secret_rate")
    (root / ".aiignore").write_text("pay/\n")
    index.files_changed([root / ".aiignore"], [], [])
    assert index.wait_ready(10)
    assert index.definitions_named("secret_rate") == []
    assert not index.is_allowed(root / "pay" / "rates.py")
