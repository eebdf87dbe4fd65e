"""Position conversion: every encoding, astral characters, line endings, clamping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sc2_lsp.documents import Snapshot, cursor_at, line_starts, position_of, uri_to_path

TEXT = "a😀b = 1\nx = 'é'\r\nlast"


@pytest.mark.parametrize(
    ("line", "column", "encoding", "offset"),
    [
        pytest.param(0, 0, "utf-16", 0, id="start"),
        pytest.param(0, 1, "utf-16", 1, id="before-emoji"),
        pytest.param(0, 3, "utf-16", 2, id="after-emoji-utf16-two-units"),
        pytest.param(0, 2, "utf-16", 1, id="inside-surrogate-pair-snaps-back"),
        pytest.param(0, 5, "utf-8", 2, id="after-emoji-utf8-four-bytes"),
        pytest.param(0, 2, "utf-32", 2, id="after-emoji-utf32-one-unit"),
        pytest.param(1, 7, "utf-16", 15, id="crlf-line-after-accent"),
        pytest.param(1, 8, "utf-8", 15, id="accent-is-two-utf8-bytes"),
        pytest.param(1, 99, "utf-16", 15, id="past-line-end-clamps-before-crlf"),
        pytest.param(2, 4, "utf-16", 21, id="last-line-end"),
        pytest.param(9, 0, "utf-16", 21, id="past-last-line-clamps-to-end"),
    ],
)
def test_cursor_at(line: int, column: int, encoding: str, offset: int) -> None:
    assert cursor_at(TEXT, line, column, encoding).offset == offset


def test_lone_cr_ends_a_line() -> None:
    assert line_starts("a\rb\r\nc\nd") == [0, 2, 5, 7]
    assert cursor_at("a\rb", 1, 1).offset == 3


@given(st.text(max_size=60), st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_position_round_trips(text: str, encoding: str) -> None:
    for offset in range(len(text) + 1):
        if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
            continue  # between \r and \n is not a position
        line, column = position_of(text, offset, encoding)
        assert cursor_at(text, line, column, encoding).offset == offset


def test_uri_to_path() -> None:
    assert str(uri_to_path("file:///tmp/a%20b.py")) == "/tmp/a b.py"
    assert uri_to_path("untitled:Untitled-1") is None
    assert Snapshot("file:///x/y.py", 1, "python", "").path is not None


@given(
    st.text(alphabet="ab\n😀é\r", max_size=40),
    st.integers(-2, 12),
    st.integers(-2, 12),
    st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
def test_cursor_at_clamps_like_the_line_table(
    text: str, line: int, column: int, encoding: str
) -> None:
    """The quick walk for text without \\r agrees with the full line table (CR forces it)."""
    plain = text.replace("\r", "")
    walked = cursor_at(plain, line, column, encoding)
    tabled = cursor_at(plain + "\r", line, column, encoding)  # a trailing \r: the table path
    if line < len(line_starts(plain)):
        assert walked == tabled
    else:  # past the last line: the end of the text
        assert walked.offset == len(plain)
