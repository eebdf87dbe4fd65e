"""The README sections generated from the code: the settings table and the layout.

Owns rendering the settings table from the settings dataclasses (each field's default and
attribute docstring) and the layout from the package, module and benchmark docstrings, and
writing them between the `<!-- generated: NAME -->` markers of README.md.
`python -m tools.readme` rewrites them (`make docs`); `--check` exits 1 when README.md differs,
as `tests/unit/test_readme.py` does.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import json
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

from sc2_lsp.config import Settings, camel, to_json

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_LISTED_ITEMS = 4


def settings_table() -> str:
    """One row per setting: its camelCase key, its default as JSON, its docstring."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, default, meaning in _settings(Settings(), ""):
        rows.append(f"| `{key}` | {_cell(_default(default))} | {_cell(meaning)} |")
    return "\n".join(rows)


def _settings(value: object, prefix: str) -> Iterator[tuple[str, object, str]]:
    assert dataclasses.is_dataclass(value), value
    docs = attribute_docstrings(type(value))
    for spec in dataclasses.fields(value):
        key = prefix + camel(spec.name)
        current = getattr(value, spec.name)
        if dataclasses.is_dataclass(current):
            yield from _settings(current, key + ".")
            continue
        if spec.name not in docs:
            raise ValueError(f"setting {key} has no docstring in {type(value).__name__}")
        yield key, current, docs[spec.name]


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Field name → the string literal right after its annotated assignment in `cls`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def _default(value: object) -> str:
    encoded = to_json(value)
    if isinstance(encoded, list) and len(encoded) > _LISTED_ITEMS:
        shown = ", ".join(f"`{item}`" for item in encoded[:_LISTED_ITEMS])
        return f"{shown}, … ({len(encoded)} patterns)"
    return f"`{json.dumps(encoded)}`"


def layout() -> str:
    """A table of the package's modules and packages, then the benchmarks, by docstring."""
    rows = ["| path | what it owns |", "|---|---|"]
    rows += [_row(path, ROOT) for path in _package_entries(ROOT / "sc2_lsp")]
    rows += [_row(path, ROOT) for path in _benchmark_entries(ROOT / "benchmarks")]
    tiers = sorted(path.name for path in (ROOT / "tests").iterdir() if any(path.glob("test_*.py")))
    listed = ", ".join(f"`tests/{tier}`" for tier in tiers)
    return "\n".join(rows) + f"\n\nTest tiers: {listed} (`make test` runs them all)."


def _package_entries(package: Path) -> Iterator[Path]:
    yield package
    for path in sorted(package.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            yield from _package_entries(path)
        elif path.suffix == ".py" and path.name not in ("__init__.py", "__main__.py"):
            yield path


def _benchmark_entries(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        is_package = path.is_dir() and (path / "__init__.py").exists()
        if is_package or (path.suffix == ".py" and path.name != "__init__.py"):
            yield path


def _row(path: Path, root: Path) -> str:
    source = path / "__init__.py" if path.is_dir() else path
    docstring = ast.get_docstring(ast.parse(source.read_text())) or ""
    shown = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
    return f"| `{shown}` | {_cell(first_sentence(docstring))} |"


def first_sentence(docstring: str) -> str:
    """The first sentence of a docstring's first paragraph, without its full stop."""
    paragraph = " ".join(docstring.split("\n\n", 1)[0].split())
    return re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0].rstrip(".")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


SECTIONS: dict[str, Callable[[], str]] = {"settings": settings_table, "layout": layout}


def render(readme: str) -> str:
    """`readme` with every generated section brought up to date."""
    for name, generate in SECTIONS.items():
        pattern = rf"<!-- generated: {name} .*?-->\n(.*?)\n<!-- end generated: {name} -->"
        found = re.search(pattern, readme, re.S)
        if found is None:
            raise ValueError(f"README.md has no markers for the generated {name} section")
        readme = readme[: found.start(1)] + generate() + readme[found.end(1) :]
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("README.md is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
