"""Ranking and packing of repository context (sc2_lsp.context.retrieval.retrieve.gather)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sc2_lsp.context.index import WorkspaceIndex
from sc2_lsp.context.retrieval.caches import GatherCache
from sc2_lsp.context.retrieval.focus import analyse
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.context.retrieval.retrieve import ContextRequest, Snippet, gather
from sc2_lsp.context.settings import RepoContextSettings
from tests.workspaces import indexed, write_tree

PROJECTS = Path(__file__).resolve().parents[1] / "data" / "projects"
FAKE_KEY = "AKIAFAKEFAKEFAKEFAKE"


def count_tokens(text: str) -> int:
    return len(text) // 3 + 1


def request_at(
    path: Path,
    marker: str,
    *,
    text: str | None = None,
    before: int = 200,
    after: int = 100,
    open_documents: dict[Path, str] | None = None,
) -> ContextRequest:
    """A request with the cursor just after `marker` and a window of `before`/`after` chars."""
    source = path.read_text() if text is None else text
    offset = source.index(marker) + len(marker)
    return ContextRequest(
        path=path,
        language=None,
        text=source,
        offset=offset,
        window_start=max(0, offset - before),
        window_end=min(len(source), offset + after),
        open_documents=open_documents if open_documents is not None else {path: source},
    )


def run(
    index: WorkspaceIndex,
    request: ContextRequest,
    budget: int = 2000,
    recent: RecentEdits | None = None,
) -> list[Snippet]:
    return gather(index, request, recent or RecentEdits(), budget, count_tokens)


# ------------------------------------------------------------------ imported definitions


@pytest.mark.parametrize(
    ("project", "relative", "marker", "expected_path", "expected_text"),
    [
        (
            "python",
            "app/main.py",
            "price = apply_discount(",
            "src/shop/pricing.py",
            "def apply_discount(price: float, percent: float) -> float:",
        ),
        (
            "typescript",
            "src/app/main.ts",
            "const total = add(",
            "src/lib/math.ts",
            "export function add(a: number, b: number): number",
        ),
        (
            "typescript",
            "src/app/widget.tsx",
            "{format(",
            "src/lib/format.ts",
            "export function format(value: number, digits = 2): string",
        ),
        (
            "typescript",
            "src/legacy/main.js",
            "legacyHelper(",
            "src/legacy/util.js",
            "function legacyHelper(value)",
        ),
        ("go", "cmd/shop/main.go", "s.Add(m.NewItem(", "internal/model/item.go", "func NewItem("),
        ("go", "cmd/shop/main.go", "s.Count(", "store/store.go", "func (s *Store) Count() int"),
        ("rust", "src/model/store.rs", "round_cents(", "src/util/mod.rs", "pub fn round_cents("),
        (
            "java",
            "src/main/java/com/acme/shop/Cart.java",
            "clamp(",
            "src/main/java/com/acme/util/MathUtil.java",
            "public static int clamp(int value, int low, int high)",
        ),
        ("c", "src/main.c", "clamp_int(item_gross(", "include/shop/item.h", "int item_gross("),
        ("cpp", "app/main.cpp", "cart.add(", "lib/cart.hpp", "void add(int price);"),
    ],
)
def test_definition_of_an_imported_function_called_at_the_cursor(
    indexes: list[WorkspaceIndex],
    project: str,
    relative: str,
    marker: str,
    expected_path: str,
    expected_text: str,
) -> None:
    root = (PROJECTS / project).resolve()
    index = indexed(root, indexes)
    snippets = run(index, request_at(root / relative, marker, before=40, after=10))
    matching = [s for s in snippets if s.path == expected_path]
    assert matching, [s.path for s in snippets]
    assert expected_text in matching[0].text
    assert matching[0].source == "import"


def test_names_re_exported_by_a_package_are_followed(indexes: list[WorkspaceIndex]) -> None:
    root = (PROJECTS / "python").resolve()
    index = indexed(root, indexes)
    snippets = run(index, request_at(root / "app" / "main.py", "cart.subtotal(", before=30))
    cart = [s for s in snippets if s.path == "src/shop/cart.py"]
    assert cart and "class Cart:" in cart[0].text
    assert "def subtotal(self) -> float:" in cart[0].text


def test_imports_not_used_yet_come_after_the_names_in_use(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    # An import not used yet is most likely what the cursor is about to use.
    root = write_tree(
        tmp_path,
        {
            "lib.py": "def used():\n    return 1\n\n\ndef unused():\n    return 2\n\n\n"
            "def other():\n    return 3\n",
            "main.py": "from lib import used, unused\n\nx = used()\n",
        },
    )
    index = indexed(root, indexes)
    request = request_at(root / "main.py", "x = used(", before=5)
    assert [s.symbol for s in run(index, request)] == ["used, unused"]
    assert [s.symbol for s in run(index, request, budget=14)] == ["used"]


# ----------------------------------------------------------------- definitions not imported


def test_self_method_and_same_directory_definitions(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    filler = "".join(f"    def filler{i}(self):\n        return {i}\n\n" for i in range(40))
    root = write_tree(
        tmp_path,
        {
            "pkg/helpers.py": "def normalise(value):\n    return value.strip().lower()\n",
            "pkg/service.py": (
                "class Service:\n"
                "    def lookup(self, key):\n"
                '        """Find `key`."""\n'
                "        return self.table[key]\n\n" + filler + "    def run(self, raw):\n"
                "        key = normalise(raw)\n"
                "        return self.lookup(key)\n"
            ),
        },
    )
    index = indexed(root, indexes)
    snippets = run(index, request_at(root / "pkg" / "service.py", "return self.lookup(", before=80))
    by_path = {s.path: s for s in snippets}
    assert "def lookup(self, key):" in by_path["pkg/service.py"].text
    assert by_path["pkg/service.py"].source == "definition"
    assert "def normalise(value):" in by_path["pkg/helpers.py"].text


def test_ambiguous_names_far_away_are_not_guessed(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    files = {f"m{i}/impl.py": "def process(x):\n    return x\n" for i in range(6)}
    files["app/main.py"] = "y = process(1)\n"
    root = write_tree(tmp_path, files)
    index = indexed(root, indexes)
    assert run(index, request_at(root / "app" / "main.py", "process(", before=3)) == []


# ---------------------------------------------------------------- dedup, budget, signatures


def test_text_already_in_the_window_is_never_repeated(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    helper = "def helper(a, b):\n    total = a + b\n    return total * 2\n"
    root = write_tree(
        tmp_path,
        {
            "lib.py": helper,
            "main.py": "from lib import helper\n\n" + helper + "\nvalue = helper(1, 2)\n",
        },
    )
    index = indexed(root, indexes)
    main = root / "main.py"
    whole_file = request_at(main, "value = helper(", before=10_000, after=10_000)
    assert run(index, whole_file) == []
    far = request_at(main, "value = helper(", before=5)
    assert any("total = a + b" in s.text for s in run(index, far))


def test_current_file_definitions_outside_the_window_only(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    body = "".join(f"x{i} = {i}\n" for i in range(60))
    text = "def far_helper(n):\n    return n + 1\n\n" + body + "result = far_helper(3)\n"
    root = write_tree(tmp_path, {"main.py": text})
    index = indexed(root, indexes)
    main = root / "main.py"
    near = run(index, request_at(main, "result = far_helper(", before=100))
    assert [s.symbol for s in near] == ["far_helper"]
    assert run(index, request_at(main, "result = far_helper(", before=len(text))) == []


def test_signatures_first_then_bodies_when_room(indexes: list[WorkspaceIndex]) -> None:
    root = (PROJECTS / "python").resolve()
    index = indexed(root, indexes)
    request = request_at(root / "app" / "main.py", "price = apply_discount(", before=40)
    tight = {s.path: s for s in run(index, request, budget=120)}
    roomy = {s.path: s for s in run(index, request, budget=4000)}
    assert "    ..." in tight["src/shop/pricing.py"].text
    assert "raise ValueError" not in tight["src/shop/pricing.py"].text
    assert "raise ValueError" in roomy["src/shop/pricing.py"].text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(budget=st.integers(min_value=0, max_value=1500), cursor=st.integers(0, 400))
def test_budget_is_respected_and_tokens_are_honest(
    python_project_index: WorkspaceIndex, budget: int, cursor: int
) -> None:
    root = python_project_index.workspace.roots[0]
    main = root / "app" / "main.py"
    text = main.read_text()
    offset = min(cursor, len(text))
    recent = RecentEdits()
    recent.record(root / "src" / "shop" / "cart.py", (root / "src/shop/cart.py").read_text(), 400)
    request = ContextRequest(
        main, "python", text, offset, max(0, offset - 30), offset, {main: text}
    )
    snippets = run(python_project_index, request, budget=budget, recent=recent)
    assert sum(s.tokens for s in snippets) <= budget
    for snippet in snippets:
        assert snippet.tokens >= count_tokens(snippet.text)
        assert snippet.text.endswith("\n")


@pytest.fixture(scope="module")
def python_project_index() -> Iterator[WorkspaceIndex]:
    index = WorkspaceIndex([(PROJECTS / "python").resolve()], RepoContextSettings())
    index.start()
    assert index.wait_ready(30)
    yield index
    index.close()


# ------------------------------------------------------------------------ stable ordering


def test_same_neighbourhood_gives_the_same_snippets_in_a_stable_order(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    shutil.copytree(PROJECTS / "python", tmp_path / "python")
    root = (tmp_path / "python").resolve()
    (root / "app" / "notes.py").write_text(
        "def checkout_total(cart):\n    price = apply_discount(cart.subtotal(), 10)\n"
        "    label = slugify('Order total')\n    return price\n"
    )
    index = indexed(root, indexes)
    main = root / "app" / "main.py"
    text = main.read_text()
    notes = (root / "app" / "notes.py").read_text()
    recent = RecentEdits()
    recent.record(
        root / "src" / "shop" / "util" / "text.py", (root / "src/shop/util/text.py").read_text(), 10
    )
    recent.record(
        root / "src" / "shop" / "pricing.py", (root / "src/shop/pricing.py").read_text(), 400
    )
    open_documents = {main: text, root / "app" / "notes.py": notes}

    results = []
    for typed in ("", "c", "ca", "car", "cart"):
        edited = text.replace("apply_discount(", "apply_discount(" + typed, 1)
        request = request_at(
            main, "apply_discount(" + typed, text=edited, before=120, open_documents=open_documents
        )
        results.append(gather(index, request, recent, 3000, count_tokens))
    first = [(s.path, s.source, s.text) for s in results[0]]
    assert first
    for later in results[1:]:
        assert [(s.path, s.source, s.text) for s in later] == first

    sources = [s.source for s in results[0]]
    rank = {"import": 0, "definition": 0, "recent": 1, "similar": 2}
    assert [rank[s] for s in sources] == sorted(rank[s] for s in sources)
    definition_paths = [s.path for s in results[0] if s.source in ("import", "definition")]
    assert definition_paths == sorted(definition_paths)
    similar_scores = [s.score for s in results[0] if s.source == "similar"]
    assert similar_scores == sorted(similar_scores)


def test_recent_edits_come_oldest_first_and_skip_the_window(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = write_tree(
        tmp_path,
        {
            "one.txt": "alpha notes\n" * 5,
            "two.txt": "beta notes\n" * 5,
            "main.txt": "".join(f"line {i}\n" for i in range(100)),
        },
    )
    index = indexed(root, indexes)
    recent = RecentEdits(chunk_lines=6)
    main = root / "main.txt"
    main_text = main.read_text()
    recent.record(root / "one.txt", (root / "one.txt").read_text(), 3)
    recent.record(main, main_text, main_text.index("line 5\n"))
    recent.record(root / "two.txt", (root / "two.txt").read_text(), 3)
    recent.record(main, main_text, main_text.index("line 90\n"))
    request = request_at(main, "line 90\n", before=60, after=30)
    snippets = run(index, request, recent=recent)
    assert [(s.path, s.source) for s in snippets] == [
        ("one.txt", "recent"),
        ("main.txt", "recent"),
        ("two.txt", "recent"),
    ]
    assert "line 5\n" in snippets[1].text


def test_similar_windows_from_open_files(tmp_path: Path, indexes: list[WorkspaceIndex]) -> None:
    other = (
        "def unrelated():\n    pass\n\n" * 10 + "def parse_invoice(raw_invoice, currency_table):\n"
        "    amount = raw_invoice['amount'] * currency_table[raw_invoice['currency']]\n"
        "    return round(amount, 2)\n"
    )
    main = "def parse_receipt(raw_receipt, currency_table):\n    amount = raw_receipt['amount']\n"
    root = write_tree(tmp_path, {"other.py": other, "main.py": main})
    index = indexed(root, indexes)
    request = request_at(
        root / "main.py",
        "raw_receipt['amount']",
        open_documents={root / "main.py": main, root / "other.py": other},
    )
    snippets = run(index, request)
    similar = [s for s in snippets if s.source == "similar"]
    assert similar and similar[0].path == "other.py"
    assert "currency_table[raw_invoice['currency']]" in similar[0].text


# ------------------------------------------------------------------------- confinement


def test_secrets_links_and_ignored_files_never_reach_snippets(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    outside = write_tree(
        tmp_path / "outside", {"leak.py": f"def compute_total(x):\n    return '{FAKE_KEY}'\n"}
    )
    root = write_tree(
        tmp_path / "ws",
        {
            ".gitignore": "private/\n",
            ".env": f"API_KEY={FAKE_KEY}\ncompute_total=1\n",
            "private/notes.py": f"def compute_total(x):\n    return '{FAKE_KEY}'\n",
            "main.py": "from leak import compute_total\nfrom private.notes import compute_total\n"
            "total = compute_total(3)\n",
        },
    )
    (root / "leak.py").symlink_to(outside / "leak.py")
    index = indexed(root, indexes)
    env_text = (root / ".env").read_text()
    leak_text = (outside / "leak.py").read_text()
    recent = RecentEdits()
    recent.record(root / ".env", env_text, 5)
    recent.record(root / "leak.py", leak_text, 5)
    recent.record(outside / "leak.py", leak_text, 5)
    recent.record(root / "private" / "notes.py", leak_text, 5)
    index.document_changed(root / ".env", env_text, "dotenv")
    index.document_changed(root / "leak.py", leak_text, "python")
    open_documents = {
        root / "main.py": (root / "main.py").read_text(),
        root / ".env": env_text,
        root / "leak.py": leak_text,
        outside / "leak.py": leak_text,
        root / "private" / "notes.py": leak_text,
    }
    request = request_at(root / "main.py", "compute_total(", open_documents=open_documents)
    snippets = run(index, request, recent=recent)
    assert all(FAKE_KEY not in s.text for s in snippets)
    assert all(s.path == "main.py" for s in snippets)


# ---------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"offset": 10**9, "window_start": -5, "window_end": 10**9},
        {"offset": -3, "window_start": 50, "window_end": 2},
        {"text": ""},
        {"text": "\x00\ud800 weird \r\n\r\n text", "language": "brainfuck"},
        {"path": Path("/nonexistent/dir/file.py")},
        {"path": Path("relative.py")},
    ],
)
def test_weird_requests_never_raise(
    python_project_index: WorkspaceIndex, request_kwargs: dict[str, object]
) -> None:
    root = python_project_index.workspace.roots[0]
    main = root / "app" / "main.py"
    fields: dict[str, Any] = {
        "path": main,
        "language": "python",
        "text": main.read_text(),
        "offset": 40,
        "window_start": 0,
        "window_end": 60,
        "open_documents": {},
    }
    fields.update(request_kwargs)
    request = ContextRequest(**fields)
    result = gather(python_project_index, request, RecentEdits(), 500, count_tokens)
    assert isinstance(result, list)


def test_a_failing_tokenizer_yields_nothing(python_project_index: WorkspaceIndex) -> None:
    def broken(_: str) -> int:
        raise RuntimeError("tokenizer gone")

    root = python_project_index.workspace.roots[0]
    request = request_at(root / "app" / "main.py", "apply_discount(")
    assert gather(python_project_index, request, RecentEdits(), 500, broken) == []


def test_disabled_or_zero_budget_gives_nothing(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    root = (PROJECTS / "python").resolve()
    request = request_at(root / "app" / "main.py", "apply_discount(")
    disabled = indexed(root, indexes, enabled=False)
    assert gather(disabled, request, RecentEdits(), 500, count_tokens) == []
    enabled = indexed(root, indexes)
    assert gather(enabled, request, RecentEdits(), 0, count_tokens) == []


def test_requests_during_indexing_use_the_partial_index(tmp_path: Path) -> None:
    files = {f"pkg{i // 40}/m{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(600)}
    files["main.py"] = "from pkg0.m1 import f1\n\nvalue = f1(2)\n"
    root = write_tree(tmp_path, files)
    index = WorkspaceIndex([root], RepoContextSettings())
    index.start()
    try:
        request = request_at(root / "main.py", "value = f1(", before=5)
        assert isinstance(run(index, request), list)
        assert index.wait_ready(60)
        assert [s.symbol for s in run(index, request)] == ["f1"]
    finally:
        index.close()


# ---------------------------------------------------------------------------- recent ring


def test_recent_ring_replaces_overlapping_chunks_and_drops_the_oldest() -> None:
    text = "".join(f"line {i}\n" for i in range(200))
    ring = RecentEdits(chunk_lines=10, max_chunks=3)
    a, b = Path("/ws/a.py"), Path("/ws/b.py")
    ring.record(a, text, text.index("line 50\n"))
    ring.record(a, text, text.index("line 52\n"))
    assert [(c.path, c.start_line) for c in ring.chunks()] == [(a, 47)]
    ring.record(a, text, text.index("line 150\n"))
    ring.record(b, text, 0)
    ring.record(b, text, text.index("line 100\n"))
    assert [(c.path, c.start_line) for c in ring.chunks()] == [(a, 145), (b, 0), (b, 95)]
    assert ring.recent_paths() == [b, a]
    ring.forget(b)
    assert [c.path for c in ring.chunks()] == [a]
    assert ring.recent_paths() == [a]


def test_several_workspace_roots_prefix_snippet_paths(
    tmp_path: Path, indexes: list[WorkspaceIndex]
) -> None:
    lib = write_tree(tmp_path / "lib", {"util.py": "def shared_helper(x):\n    return x\n"})
    app = write_tree(tmp_path / "app", {"main.py": "y = shared_helper(2)\n"})
    index = WorkspaceIndex([app, lib], RepoContextSettings())
    indexes.append(index)
    index.start()
    assert index.wait_ready(30)
    snippets = run(index, request_at(app / "main.py", "shared_helper(", before=3))
    assert [s.path for s in snippets] == ["lib/util.py"]


def reference_lines(text: str, start: int, end: int) -> str:
    lines = text.split("\n")
    chosen = lines[start:end]
    joined = "\n".join(chosen) + ("\n" if end < len(lines) and chosen else "")
    return joined if joined.endswith("\n") or not joined else joined + "\n"


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet="ab\n\r", max_size=60),
    cursor=st.integers(0, 70),
    start=st.integers(0, 30),
    length=st.integers(0, 30),
)
def test_focus_line_slices_match_plain_splitting(
    text: str, cursor: int, start: int, length: int
) -> None:
    offset = min(cursor, len(text))
    request = ContextRequest(Path("/x.py"), None, text, offset, 0, len(text), {})
    focus = analyse(request, Path("/x.py"), None, frozenset(), 10)
    expected = reference_lines(text, start, start + length)
    assert focus.lines(start, start + length) == expected
    assert GatherCache().lines(text, start, start + length) == expected
    before = focus.lines_before_cursor(2)
    assert text[:offset].endswith(before)
    assert before.count("\n") == min(2, text[:offset].count("\n"))
