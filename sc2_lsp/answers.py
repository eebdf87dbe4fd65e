"""The LSP shape of an answer: inline completion items with their accept commands, the popup
item for clients without inline completion, and the accept signals editors send back.

Each inline item carries the command `sc2.accepted`, which the client runs once it inserted
the item; partial accepts (a word, a line) arrive as `sc2.partiallyAccepted`. Both name the
answer and the item, so the acceptance log can tell which suggestion was taken.

An item has a `range` (empty, at the cursor) only when nothing but blanks follows the cursor
on its line: Neovim draws an item with a range as an overlay, which would hide the rest of the
line. Without one, clients insert at the cursor the request named; VS Code, whose default
range runs to the end of the line, gets the empty range from the sc2-lsp extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from sc2_lsp import documents
from sc2_lsp.completer import Suggestion
from sc2_lsp.prompting import Request

ACCEPTED = "sc2.accepted"
PARTIALLY_ACCEPTED = "sc2.partiallyAccepted"


@dataclass(frozen=True, slots=True)
class AcceptSignal:
    """What an editor says it accepted: item `index` of answer `answer_id`; `length`: the
    characters it inserted (required for a partial accept, optional for a full one)."""

    answer_id: str
    index: int
    length: int | None


def inline_items(
    request: Request, suggestion: Suggestion, position: types.Position, answer_id: str
) -> list[types.InlineCompletionItem]:
    text, offset = request.snapshot.text, request.cursor.offset
    line_end = text.find("\n", offset)
    rest_of_line = text[offset : len(text) if line_end < 0 else line_end]
    at_cursor = types.Range(start=position, end=position)
    where = {"line": position.line, "character": position.character}
    return [
        types.InlineCompletionItem(
            insert_text=item.text,
            range=at_cursor if not rest_of_line.strip() else None,
            command=types.Command(
                title="sc2-lsp: suggestion accepted",
                command=ACCEPTED,
                arguments=[{"id": answer_id, "index": index, "position": where}],
            ),
        )
        for index, item in enumerate(suggestion.items)
    ]


def accept_signal(arguments: tuple[Any, ...], partial: bool) -> AcceptSignal:
    """The signal in a command's arguments; InvalidParams (naming what is wrong) otherwise."""
    command = PARTIALLY_ACCEPTED if partial else ACCEPTED
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        raise JsonRpcInvalidParams(f"{command}: expected one object argument")
    signal = arguments[0]
    answer_id, index, length = signal.get("id"), signal.get("index"), signal.get("length")
    if not isinstance(answer_id, str):
        raise JsonRpcInvalidParams(f'{command}: "id" must be a string')
    if not isinstance(index, int) or not _count(index):
        raise JsonRpcInvalidParams(f'{command}: "index" must be a whole number >= 0')
    if (length is not None or partial) and not _count(length):
        raise JsonRpcInvalidParams(f'{command}: "length" must be a whole number >= 0')
    return AcceptSignal(answer_id, index, length)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def completion_item(
    request: Request,
    suggestion: Suggestion,
    position: types.Position,
    encoding: str,
    markdown: bool,
) -> types.CompletionItem:
    """A popup item for clients without inline completion: replaces the word being typed."""
    text, offset = request.snapshot.text, request.cursor.offset
    word_start = offset
    while word_start > 0 and (text[word_start - 1].isalnum() or text[word_start - 1] == "_"):
        word_start -= 1
    word = text[word_start:offset]
    # Counted from the cursor's line, not the text: a notebook cell's snapshot is the whole
    # notebook, whose lines are not the cell's.
    line_text = text[offset - request.cursor.column : offset]
    column = documents.index_to_column(line_text, len(line_text) - len(word), encoding)
    new_text = word + suggestion.text
    first_line = new_text.split("\n", 1)[0].strip() or new_text.strip().split("\n", 1)[0]
    return types.CompletionItem(
        label=first_line[:80] + ("…" if len(first_line) > 80 or "\n" in suggestion.text else ""),
        kind=types.CompletionItemKind.Snippet,
        detail="sc2-lsp",
        documentation=(
            types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```\n{new_text}\n```")
            if markdown
            else new_text
        ),
        filter_text=new_text,
        sort_text="0",
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(
            range=types.Range(
                start=types.Position(line=position.line, character=column), end=position
            ),
            new_text=new_text,
        ),
    )
