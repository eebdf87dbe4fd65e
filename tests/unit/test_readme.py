"""The README's generated sections (settings table, layout) match the code (tools/readme.py)."""

from __future__ import annotations

from dataclasses import dataclass

from tools.readme import README, attribute_docstrings, first_sentence, render


def test_readme_is_up_to_date() -> None:
    readme = README.read_text()
    assert render(readme) == readme, "README.md is stale: run `make docs`"


@dataclass(frozen=True)
class _Example:
    documented: int = 1
    """What it is,
    over two lines."""
    undocumented: int = 2
    # A comment is not documentation.
    commented: int = 3


def test_attribute_docstrings_are_the_strings_after_fields() -> None:
    assert attribute_docstrings(_Example) == {"documented": "What it is, over two lines."}


def test_first_sentence_of_the_first_paragraph() -> None:
    assert first_sentence("Owns a thing. And more.\n\nDetails.") == "Owns a thing"
    assert first_sentence("A summary that wraps\nonto a second line") == (
        "A summary that wraps onto a second line"
    )
