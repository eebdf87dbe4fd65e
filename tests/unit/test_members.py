"""Member completions (`receiver.|`) and the definitions a cursor is about to use.

Covers sc2_lsp.context.retrieval.members (what a receiver is and which members it offers), the listing
packer, the cursor-target analysis in focus, and the compact forms of definitions (capped
docstrings, class headers for names not used yet).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.languages import extract_symbols
from sc2_lsp.context.retrieval.focus import completion_target
from sc2_lsp.context.retrieval.members import base_names, class_name_guess, words
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.context.retrieval.render import render_definition
from sc2_lsp.context.retrieval.retrieve import ContextRequest, Snippet, gather
from tests.workspaces import indexed, write_tree


def count_tokens(text: str) -> int:
    return len(text) // 3 + 1


CURSOR = "<|>"


def at_cursor(index: WorkspaceIndex, path: Path, marked: str, budget: int = 2000) -> list[Snippet]:
    """Snippets with the cursor where `marked` (the file's text) has `<|>`.

    The prompt window is the 80 characters before the cursor and 20 after.
    """
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    window = (max(0, offset - 80), min(len(text), offset + 20))
    request = ContextRequest(path, None, text, offset, *window, {path: text})
    return gather(index, request, RecentEdits(), budget, count_tokens)


def texts(snippets: list[Snippet]) -> dict[str, str]:
    return {snippet.path: snippet.text for snippet in snippets}


MANY = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(30))


# ------------------------------------------------------------------ what the cursor completes


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("x = self._loop.", ("self._loop", "")),
        ("if (this.#npm.ma", ("this.#npm", "ma")),
        ("a.b?.c(). fo", ("a.b.c()", "fo")),
        ("  std::vec", ("std", "vec")),
        ("p->next", ("p", "next")),
        ("total = fo", (None, "fo")),
        ("return ", (None, "")),
        ("x = 3.", (None, "")),
        ("call(arg).", (None, "")),
        ("first line.\nsecond = ", (None, "")),
    ],
)
def test_completion_target(before: str, expected: tuple[str | None, str]) -> None:
    assert completion_target(before) == expected


def test_name_helpers() -> None:
    assert words("getHTTPSession_id") == {"get", "http", "session", "id"}
    assert class_name_guess("npm") == "Npm"
    assert class_name_guess("_edge_set") == "EdgeSet"
    assert class_name_guess("#idealTree") == "IdealTree"


@pytest.mark.parametrize(
    ("header", "language", "expected"),
    [
        ("class A(Base, mod.Mixin, metaclass=Meta):", "python", ["Base", "mod.Mixin"]),
        ("@dataclass(frozen=True)\nclass A(Generic[T]):\n    x = 1", "python", ["Generic"]),
        ("class A(\n    Base,\n    Other,\n):\n", "python", ["Base", "Other"]),
        ("class A:\n    pass", "python", []),
        ("class Ls extends ArboristCmd {", "javascript", ["ArboristCmd"]),
        ("class A extends B implements I, J {", "typescript", ["B", "I", "J"]),
        ("class Cart : public Base, private detail::Helper {", "cpp", ["Base", "detail.Helper"]),
    ],
)
def test_base_names(header: str, language: str, expected: list[str]) -> None:
    assert base_names(header, language) == expected


# ------------------------------------------------------------------ members of a receiver


def test_module_alias_lists_the_modules_definitions(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    main = "from . import constants\n\n\ndef show():\n    limit = constants.<|>\n    return 1\n"
    root = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/constants.py": "DEBUG_STACK_DEPTH = 10\nACCEPT_RETRY_DELAY = 1\n" + MANY,
            "pkg/main.py": main,
        },
        leave_out=CURSOR,
    )
    index = indexed(root, indexes)
    listing = texts(at_cursor(index, root / "pkg" / "main.py", main))["pkg/constants.py"]
    assert "DEBUG_STACK_DEPTH = 10" in listing
    assert "def helper_0(value): ..." in listing
    assert "return value" not in listing  # signatures only: as many names as fit


def test_typed_prefix_narrows_the_members(tmp_path: Path, indexes: list[WorkspaceIndex]) -> None:
    main = "import lib\n\nvalue = lib.pars<|>\n"
    root = write_tree(
        tmp_path,
        {"lib.py": MANY + "def parse_header(raw):\n    return raw\n", "main.py": main},
        leave_out=CURSOR,
    )
    index = indexed(root, indexes)
    found = texts(at_cursor(index, root / "main.py", main, budget=60))
    assert "def parse_header(raw)" in found["lib.py"]


def test_self_lists_the_base_classes_members_from_other_files(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    ls = (
        "const WorkspaceCommand = require('./middle.js')\n"
        "class Ls extends WorkspaceCommand {\n  async exec (args) {\n    throw this.<|>\n  }\n}\n"
        "module.exports = Ls\n"
    )
    root = write_tree(
        tmp_path,
        {
            "base.js": "class BaseCommand {\n  usageError (prefix = '') {\n    return prefix\n  }\n"
            "  get describeUsage () {\n    return ''\n  }\n}\nmodule.exports = BaseCommand\n",
            "middle.js": "const BaseCommand = require('./base.js')\n"
            "class WorkspaceCommand extends BaseCommand {\n  setWorkspaces () {\n    return 1\n  }\n}\n"
            "module.exports = WorkspaceCommand\n",
            "ls.js": ls,
        },
        leave_out=CURSOR,
    )
    index = indexed(root, indexes)
    found = texts(at_cursor(index, root / "ls.js", ls, budget=150))
    assert "setWorkspaces () { ... }" in found["middle.js"]
    assert "usageError (prefix = '') { ... }" in found["base.js"]
    assert found["base.js"].startswith("class BaseCommand {")


def test_receiver_class_from_annotation_or_name(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    annotated = "def check(link: 'Edge', store):\n    store.query(1)\n    return link.<|>\n"
    named = "def walk(inventory):\n    return inventory.<|>\n"
    root = write_tree(
        tmp_path,
        {
            "model.py": "class Edge:\n    def satisfied_by(self, node):\n        return True\n\n\n"
            "class Inventory:\n    def query(self, key):\n        return key\n",
            "use.py": annotated,
            "use2.py": named,
        },
        leave_out=CURSOR,
    )
    index = indexed(root, indexes)
    found = texts(at_cursor(index, root / "use.py", annotated, budget=100))["model.py"]
    assert "def satisfied_by(self, node): ..." in found
    found = texts(at_cursor(index, root / "use2.py", named, budget=100))["model.py"]
    assert "def query(self, key): ..." in found


def test_listings_respect_the_budget_and_count_honestly(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    main = "import lib\n\nvalue = lib.<|>\n"
    root = write_tree(tmp_path, {"lib.py": MANY, "main.py": main}, leave_out=CURSOR)
    index = indexed(root, indexes)
    for budget in (0, 20, 60, 150, 400):
        snippets = at_cursor(index, root / "main.py", main, budget=budget)
        assert sum(s.tokens for s in snippets) <= budget
        for snippet in snippets:
            assert snippet.tokens >= count_tokens(snippet.text)


# ------------------------------------------------------------------ names about to be used


def test_a_required_module_is_its_namesake_definition(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    optional = (
        "const gatherDepSet = require('./gather-dep-set.js')\n"
        "const optionalSet = node => {\n  return <|>\n}\nmodule.exports = optionalSet\n"
    )
    root = write_tree(
        tmp_path,
        {
            "gather-dep-set.js": "const gatherDepSet = (set, edgeFilter) => {\n  return set\n}\n"
            "module.exports = gatherDepSet\n",
            "optional-set.js": optional,
        },
        leave_out=CURSOR,
    )
    index = indexed(root, indexes)
    found = texts(at_cursor(index, root / "optional-set.js", optional))
    assert "const gatherDepSet = (set, edgeFilter) =>" in found["gather-dep-set.js"]


def test_a_class_imported_but_not_used_yet_comes_with_its_header_first(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    methods = "".join(f"    def method_{i}(self):\n        return {i}\n\n" for i in range(30))
    main = "from errors import BucketNotFoundError\n\ntry:\n    pass\nexcept <|>\n"
    root = write_tree(
        tmp_path,
        {
            "errors.py": 'class BucketNotFoundError(Exception):\n    """No such bucket."""\n\n'
            + methods,
            "main.py": main,
        },
        leave_out=CURSOR,
    )
    index = indexed(root, indexes)
    tight = texts(at_cursor(index, root / "main.py", main, budget=40))["errors.py"]
    assert tight.startswith("class BucketNotFoundError(Exception):")
    assert "method_0" not in tight


# ------------------------------------------------------------------ compact definitions


def test_long_docstrings_are_cut_to_their_summary() -> None:
    source = (
        b"def builds(target, *args):\n"
        b'    """Generates values by calling target.\n'
        b"\n"
        b"    Long explanation that goes on.\n"
        b"    And on.\n"
        b'    """\n'
        b"    return target(*args)\n"
    )
    symbols = extract_symbols("python", source)
    assert symbols is not None
    rendered = render_definition(source, symbols, 0, full=False, max_lines=80)
    assert rendered is not None
    assert rendered.text == (
        'def builds(target, *args):\n    """Generates values by calling target.\n    """\n    ...'
    )
    full = render_definition(source, symbols, 0, full=True, max_lines=80)
    assert full is not None and "Long explanation" in full.text
