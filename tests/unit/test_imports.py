"""Import resolution to workspace files, per language, on real multi-file projects."""

from __future__ import annotations

from pathlib import Path

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.languages.javascript import load_script_config
from tests.workspaces import indexed, write_tree

PROJECTS = Path(__file__).resolve().parents[1] / "data" / "projects"

Resolution = list[tuple[str, tuple[tuple[str, str], ...], str | None]]


def resolution(index: WorkspaceIndex, root: Path, relative: str) -> Resolution:
    record = index.record(root.resolve() / relative)
    assert record is not None, relative
    return [
        (item.target.relative_to(root.resolve()).as_posix(), item.names, item.alias)
        for item in index.resolved_imports(record)
    ]


# ----------------------------------------------------------------------------- Python


def test_python_src_layout_project(indexes: list[WorkspaceIndex]) -> None:
    root = PROJECTS / "python"
    index = indexed(root, indexes)
    assert resolution(index, root, "app/main.py") == [
        ("src/shop/util/text.py", (), "text_helpers"),
        ("src/shop/__init__.py", (("Cart", "Cart"),), None),
        ("src/shop/pricing.py", (("apply_discount", "apply_discount"),), None),
    ]
    assert resolution(index, root, "src/shop/cart.py") == [
        (
            "src/shop/pricing.py",
            (("apply_discount", "apply_discount"), ("with_tax", "with_tax")),
            None,
        ),
    ]


def test_python_relative_and_package_imports(tmp_path: Path, indexes: list[WorkspaceIndex]) -> None:
    root = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "VERSION = 1\n",
            "pkg/a.py": "from . import b\nfrom .b import helper\nfrom . import VERSION\n",
            "pkg/b.py": "def helper():\n    pass\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": (
                "from ..a import b\nfrom .. import sub\nimport pkg.b as bee\nimport pkg.sub\n"
            ),
            "main.py": "from pkg.sub import c\nfrom pkg import missing\nimport os\n",
        },
    )
    index = indexed(root, indexes)
    assert resolution(index, root, "pkg/a.py") == [
        ("pkg/b.py", (), "b"),
        ("pkg/b.py", (("helper", "helper"),), None),
        ("pkg/__init__.py", (("VERSION", "VERSION"),), None),
    ]
    assert resolution(index, root, "pkg/sub/c.py") == [
        ("pkg/a.py", (("b", "b"),), None),
        ("pkg/sub/__init__.py", (), "sub"),
        ("pkg/b.py", (), "bee"),
        ("pkg/sub/__init__.py", (), "pkg"),
    ]
    assert resolution(index, root, "main.py") == [
        ("pkg/sub/c.py", (), "c"),
        ("pkg/__init__.py", (("missing", "missing"),), None),
    ]


# ----------------------------------------------------------------------------- JS / TS


def test_typescript_relative_barrel_and_tsconfig_paths(indexes: list[WorkspaceIndex]) -> None:
    root = PROJECTS / "typescript"
    index = indexed(root, indexes)
    assert resolution(index, root, "src/app/main.ts") == [
        ("src/lib/math.ts", (("add", "add"),), None),
        ("src/lib/math.ts", (("Vector", "Vector"),), None),
        ("src/lib/index.ts", (("format", "format"),), None),
    ]
    assert resolution(index, root, "src/lib/index.ts") == [
        ("src/lib/math.ts", (("*", "*"),), None),
        ("src/lib/format.ts", (("format", "format"),), None),
    ]
    assert resolution(index, root, "src/legacy/main.js") == [
        ("src/legacy/util.js", (("legacyHelper", "legacyHelper"),), None),
    ]


def test_script_extension_mapping_index_files_and_extends(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(
        tmp_path,
        {
            "tsconfig.base.json": (
                '{"compilerOptions": {"baseUrl": "./src", "paths": {"~/*": ["*"]}}}'
            ),
            "web/tsconfig.json": '{\n  "extends": "../tsconfig.base.json", // shared\n}\n',
            "src/util/esm.ts": "export const x = 1;\n",
            "src/components/index.tsx": "export function Button() {}\n",
            "src/node_modules/dep/index.js": "export const y = 2;\n",
            "web/app.ts": (
                "import { x } from '../src/util/esm.js';\n"
                "import { Button } from '../src/components';\n"
                "import { Button as B } from '~/components';\n"
                "import { y } from '../src/node_modules/dep';\n"
                "import React from 'react';\n"
            ),
        },
    )
    index = indexed(root, indexes)
    assert resolution(index, root, "web/app.ts") == [
        ("src/util/esm.ts", (("x", "x"),), None),
        ("src/components/index.tsx", (("Button", "Button"),), None),
        ("src/components/index.tsx", (("Button", "B"),), None),
    ]


def test_tsconfig_comments_and_trailing_commas_are_tolerated(tmp_path: Path) -> None:
    config = tmp_path / "tsconfig.json"
    config.write_text(
        '{\n  // c\n  "compilerOptions": {\n    /* block */ "baseUrl": ".",\n'
        '    "paths": { "@/*": ["src/*",], },\n  },\n}\n'
    )
    parsed = load_script_config(config, lambda p: p.read_text())
    assert parsed is not None
    assert parsed.base_url == tmp_path
    assert parsed.paths == (("@/*", ("src/*",)),)


# ------------------------------------------------------------------------------- Go


def test_go_packages_from_go_mod(indexes: list[WorkspaceIndex]) -> None:
    root = PROJECTS / "go"
    index = indexed(root, indexes)
    assert resolution(index, root, "cmd/shop/main.go") == [
        ("internal/model/item.go", (), "m"),
        ("store/helpers.go", (), "store"),
        ("store/store.go", (), "store"),
    ]


def test_go_nested_modules_pick_the_longest_module_path(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(
        tmp_path,
        {
            "go.mod": "module example.com/mono\n",
            "tools/go.mod": "module example.com/mono/tools\n",
            "tools/lint/lint.go": "package lint\nfunc Run() {}\n",
            "api/api.go": (
                'package api\nimport (\n\t"example.com/mono/tools/lint"\n'
                '\t_ "example.com/mono/api"\n)\n'
            ),
        },
    )
    index = indexed(root, indexes)
    assert resolution(index, root, "api/api.go") == [("tools/lint/lint.go", (), "lint")]


# ----------------------------------------------------------------------------- Rust


def test_rust_mod_declarations_and_use_paths(indexes: list[WorkspaceIndex]) -> None:
    root = PROJECTS / "rust"
    index = indexed(root, indexes)
    assert resolution(index, root, "src/lib.rs") == [
        ("src/model.rs", (), "model"),
        ("src/util/mod.rs", (), "util"),
        ("src/model.rs", (("Item", "Item"),), None),
    ]
    assert resolution(index, root, "src/model.rs") == [("src/model/store.rs", (), "store")]
    assert resolution(index, root, "src/model/store.rs") == [
        ("src/model.rs", (("Item", "Item"),), None),
        ("src/util/mod.rs", (("round_cents", "round_cents"),), None),
    ]


def test_rust_workspace_crates_by_package_name(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(
        tmp_path,
        {
            "core-lib/Cargo.toml": '[package]\nname = "core-lib"\n',
            "core-lib/src/lib.rs": "pub mod shapes;\n",
            "core-lib/src/shapes.rs": "pub struct Circle;\n",
            "app/Cargo.toml": '[package]\nname = "app"\n',
            "app/src/main.rs": "use core_lib::shapes::Circle;\nuse self::cli::parse;\nmod cli;\n",
            "app/src/cli.rs": "pub fn parse() {}\n",
        },
    )
    index = indexed(root, indexes)
    assert resolution(index, root, "app/src/main.rs") == [
        ("core-lib/src/shapes.rs", (("Circle", "Circle"),), None),
        ("app/src/cli.rs", (("parse", "parse"),), None),
        ("app/src/cli.rs", (), "cli"),
    ]


# ----------------------------------------------------------------------------- Java


def test_java_class_static_and_wildcard_imports(indexes: list[WorkspaceIndex]) -> None:
    root = PROJECTS / "java"
    index = indexed(root, indexes)
    base = "src/main/java/com/acme"
    assert resolution(index, root, f"{base}/shop/Cart.java") == [
        (f"{base}/util/Strings.java", (("Strings", "Strings"),), None),
        (f"{base}/util/MathUtil.java", (("clamp", "clamp"),), None),
        (f"{base}/model/Item.java", (), "Item"),
    ]


# ---------------------------------------------------------------------------- C/C++


def test_c_includes_relative_and_through_include_dirs(indexes: list[WorkspaceIndex]) -> None:
    root = PROJECTS / "c"
    index = indexed(root, indexes)
    assert resolution(index, root, "src/main.c") == [
        ("include/shop/item.h", (), None),
        ("src/util.h", (), None),
    ]
    assert resolution(index, root, "src/item.c") == [("include/shop/item.h", (), None)]


def test_cpp_relative_includes(indexes: list[WorkspaceIndex]) -> None:
    root = PROJECTS / "cpp"
    index = indexed(root, indexes)
    assert resolution(index, root, "app/main.cpp") == [("lib/cart.hpp", (), None)]
    assert resolution(index, root, "lib/cart.cpp") == [("lib/cart.hpp", (), None)]


# ------------------------------------------------------------------------ confinement


def test_imports_never_resolve_outside_or_into_ignored_files(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    outside = write_tree(tmp_path / "outside", {"secret.h": "int s;\n", "leak.py": "X = 1\n"})
    root = write_tree(
        tmp_path / "ws",
        {
            ".gitignore": "vendor/\n",
            "vendor/lib.h": "int v;\n",
            "src/main.c": '#include "../../outside/secret.h"\n#include "../vendor/lib.h"\n',
            "pkg/__init__.py": "",
            "pkg/mod.py": "from .. import leak\nfrom ...outside import leak as l2\n",
        },
    )
    (root / "pkg" / "linked.py").symlink_to(outside / "leak.py")
    (root / "pkg" / "user.py").write_text("from . import linked\nfrom .linked import X\n")
    index = indexed(root, indexes)
    assert resolution(index, root, "src/main.c") == []
    assert resolution(index, root, "pkg/mod.py") == []
    targets = [target for target, _, _ in resolution(index, root, "pkg/user.py")]
    assert "pkg/linked.py" not in targets
    assert all(not target.startswith("..") for target in targets)
