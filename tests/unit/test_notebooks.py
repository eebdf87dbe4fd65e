"""A notebook as one Python file: cell order, markers, cursor mapping, cutting at cell ends."""

from __future__ import annotations

from sc2_lsp.documents import cursor_at
from sc2_lsp.notebooks import Cell, render, within_cell


def test_cells_become_one_file_with_marked_boundaries() -> None:
    whole = render(
        [
            Cell("c1", "import numpy as np"),
            Cell("m1", "Load the data\n\nthen plot it", markdown=True),
            Cell("c2", "data = np.zeros(3)\nprint(data)"),
            Cell("c3", ""),
        ]
    )
    assert whole.text == (
        "# %%\nimport numpy as np\n\n"
        "# %% [markdown]\n# Load the data\n#\n# then plot it\n\n"
        "# %%\ndata = np.zeros(3)\nprint(data)\n\n"
        "# %%\n"
    )
    assert set(whole.starts) == {"c1", "c2", "c3"}  # no completion inside markdown


def test_a_cursor_in_a_cell_maps_to_the_same_place_in_the_whole_text() -> None:
    cells = [Cell("c1", "import os\nimport sys"), Cell("c2", "path = os.\nprint(path)")]
    whole = render(cells)
    inside = cursor_at(cells[1].text, 0, 10, "utf-16")
    mapped = whole.cursor("c2", inside)
    assert mapped is not None
    assert whole.text[: mapped.offset].endswith("# %%\npath = os.")
    assert whole.text[mapped.offset :].startswith("\nprint(path)")
    assert mapped == cursor_at(whole.text, mapped.line, mapped.column, "utf-16")
    assert whole.cursor("unknown", inside) is None


def test_a_suggestion_ends_where_the_next_cell_would_begin() -> None:
    assert within_cell("x = 1\ny = 2\n\n# %%\nz = 3") == "x = 1\ny = 2"
    assert within_cell("# %% not at the start of a line counts only on later lines") == (
        "# %% not at the start of a line counts only on later lines"
    )
    assert within_cell("total()") == "total()"
