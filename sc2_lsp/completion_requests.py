"""Completion requests: inline completion (ghost text: alternatives, each with its accept
command) and the popup completion fallback.

A request names a text document or a notebook cell; a cell is completed as part of its whole
notebook (`notebooks`), and its suggestions end where the cell ends. The answers' LSP shape is
`answers`; each answer is noted in the server's `AcceptanceLog`, which the accept commands
(handled in `server.py`) then refer to.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from lsprotocol import types

from sc2_lsp import answers, client, documents, notebooks, sync
from sc2_lsp.completer import Suggestion
from sc2_lsp.engine import EngineError
from sc2_lsp.prompting import Request, Trigger
from sc2_lsp.suggestions import Alternative

if TYPE_CHECKING:
    from sc2_lsp.server import Sc2Server


def register(server: Sc2Server) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: Sc2Server, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        found = await suggest(
            ls, params.text_document.uri, params.position, "invoked" if invoked else "automatic"
        )
        if found is None:
            return types.InlineCompletionList(items=[])
        request, suggestion = found
        answer_id = answered(ls, request, suggestion)
        return types.InlineCompletionList(
            items=answers.inline_items(request, suggestion, params.position, answer_id)
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "])
    )
    async def completion(ls: Sc2Server, params: types.CompletionParams) -> types.CompletionList:
        invoked = (
            params.context is None
            or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        found = await suggest(
            ls, params.text_document.uri, params.position, "invoked" if invoked else "automatic"
        )
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        request, suggestion = found
        encoding = str(ls.workspace.position_encoding or "utf-16")
        item = answers.completion_item(
            request, suggestion, params.position, encoding, client.supports_markdown(ls)
        )
        return types.CompletionList(is_incomplete=True, items=[item])


def request_for(
    ls: Sc2Server, uri: str, position: types.Position, trigger: Trigger
) -> Request | None:
    """The request at `position` in the document (or notebook cell) `uri`."""
    document = ls.document(uri)
    if document is None:
        return None
    text = documents.scrub_surrogates(document.source)
    encoding = str(ls.workspace.position_encoding or "utf-16")
    cursor = documents.cursor_at(text, position.line, position.character, encoding)
    notebook = ls.workspace.get_notebook_document(cell_uri=uri)
    if notebook is not None:
        # The whole notebook, as one file under the notebook's own URI and path.
        whole = sync.notebook_text(ls.workspace, notebook)
        in_notebook = whole.cursor(unquote(uri), cursor)
        if in_notebook is None:
            return None
        text, cursor, uri = whole.text, in_notebook, notebook.uri
    snapshot = documents.Snapshot(uri, document.version, document.language_id, text)
    return Request(snapshot, cursor, root_for(ls, snapshot.path), trigger)


def root_for(ls: Sc2Server, path: Path | None) -> Path | None:
    if path is None:
        return None
    matching = [root for root in ls.workspace_roots() if path.is_relative_to(root)]
    return max(matching, key=lambda root: len(root.parts), default=None)


async def suggest(
    ls: Sc2Server, uri: str, position: types.Position, trigger: Trigger
) -> tuple[Request, Suggestion] | None:
    completion = ls.settings.completion
    if ls.model_error is not None:  # the model asked for failed: not the previous one either
        return None
    request = request_for(ls, uri, position, trigger)
    ls.idle.touch(request, uri)
    # A cell is refused or not as its notebook is (the request's snapshot is the notebook).
    if request is None or ls.refusal(request.snapshot.uri) is not None or not completion.enable:
        return None
    if request.snapshot.language_id in completion.disabled_languages:
        return None
    try:
        suggestion = await ls.completer.complete(request, ls.settings)
    except EngineError as error:
        ls.show(f"sc2-lsp: {error}", types.MessageType.Error)
        return None
    finally:
        ls.publish_status()
    if suggestion is not None and ls.workspace.get_notebook_document(cell_uri=uri):
        suggestion = _within_cell(suggestion)
    if suggestion is None or not suggestion.text:
        return None
    return request, suggestion


def answered(ls: Sc2Server, request: Request, suggestion: Suggestion) -> str:
    """Note the answer in the acceptance log; its id for the items' accept commands."""
    info = ls.engine.info
    return ls.acceptance.answered(
        request.snapshot.language_id,
        info.path.name if info else None,
        suggestion.elapsed_ms,
        [(item.lineage, len(item.text)) for item in suggestion.items],
    )


def _within_cell(suggestion: Suggestion) -> Suggestion | None:
    """The suggestion's alternatives, each cut where it would begin the next notebook cell."""
    items = [
        Alternative(text, item.lineage)
        for item in suggestion.items
        if (text := notebooks.within_cell(item.text))
    ]
    return dataclasses.replace(suggestion, items=tuple(items)) if items else None
