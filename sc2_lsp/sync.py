"""Document sync handlers: what the client opens, edits and closes reaches the repository view
and the refusal gate; notebooks (LSP 3.17 notebook sync) are seen as one Python file each.

pygls keeps the text documents and notebooks themselves (its workspace applies every edit);
these handlers tell the repository context about them. A notebook is shown to the repository
as the Python file `notebooks.render` makes of its cells, under the notebook's own path, so
the index, recent edits and similar code treat it like any other file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import Workspace

from sc2_lsp import documents, notebooks
from sc2_lsp.prompting import Request

if TYPE_CHECKING:
    from sc2_lsp.server import Sc2Server

NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            cells=[
                types.NotebookCellLanguage(language="python"),
                types.NotebookCellLanguage(language="markdown"),
            ],
            notebook="jupyter-notebook",
        )
    ]
)
"""What the server asks clients to sync: Jupyter notebooks' Python and markdown cells."""


def notebook_text(workspace: Workspace, notebook: types.NotebookDocument) -> notebooks.NotebookText:
    """The notebook as one file; its cells are named by unquoted URI, as pygls keys them."""
    cells = []
    for cell in notebook.cells:
        uri = unquote(cell.document)
        document = workspace.text_documents.get(uri)
        text = documents.scrub_surrogates(document.source) if document is not None else ""
        cells.append(notebooks.Cell(uri, text, cell.kind == types.NotebookCellKind.Markup))
    return notebooks.render(cells)


def register(server: Sc2Server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: Sc2Server, params: types.DidOpenTextDocumentParams) -> None:
        document = params.text_document
        ls.idle.touch(uri=document.uri)
        if ls.refusal(document.uri) is not None:
            ls.publish_status()
        elif (path := documents.uri_to_path(document.uri)) is not None:
            text = documents.scrub_surrogates(document.text)
            ls.repository.opened(path, text, document.language_id)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: Sc2Server, params: types.DidChangeTextDocumentParams) -> None:
        path = documents.uri_to_path(params.text_document.uri)
        document = ls.document(params.text_document.uri)
        if path is None or document is None or params.text_document.uri in ls.refused:
            return
        text = documents.scrub_surrogates(document.source)
        encoding = str(ls.workspace.position_encoding or "utf-16")
        edits = [
            documents.cursor_at(
                text, change.range.start.line, change.range.start.character, encoding
            ).offset
            for change in params.content_changes
            if isinstance(change, types.TextDocumentContentChangePartial)
        ]
        ls.repository.changed(path, text, document.language_id, edits)
        ls.idle.touch(uri=params.text_document.uri, cursor=lambda: _after_edit(ls, params))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Sc2Server, params: types.DidCloseTextDocumentParams) -> None:
        ls.completer.forget(params.text_document.uri)
        ls.idle.forget(params.text_document.uri)
        ls.refused.pop(params.text_document.uri, None)
        if (path := documents.uri_to_path(params.text_document.uri)) is not None:
            ls.repository.closed(path)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def did_open_notebook(ls: Sc2Server, params: types.DidOpenNotebookDocumentParams) -> None:
        notebook_changed(ls, params.notebook_document.uri, opened=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def did_change_notebook(ls: Sc2Server, params: types.DidChangeNotebookDocumentParams) -> None:
        notebook_changed(ls, params.notebook_document.uri, opened=False)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def did_close_notebook(ls: Sc2Server, params: types.DidCloseNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        ls.completer.forget(uri)
        ls.refused.pop(uri, None)
        if (path := documents.uri_to_path(uri)) is not None:
            ls.repository.closed(path)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: Sc2Server, params: types.DidChangeWatchedFilesParams) -> None:
        by_kind: dict[types.FileChangeType, list[Path]] = {
            kind: [] for kind in types.FileChangeType
        }
        for change in params.changes:
            if (path := documents.uri_to_path(change.uri)) is not None:
                by_kind[change.type].append(path)
        ls.repository.files_changed(
            by_kind[types.FileChangeType.Created],
            by_kind[types.FileChangeType.Changed],
            by_kind[types.FileChangeType.Deleted],
        )
        ls.check_open_documents()  # an ignore file may have changed

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(
        ls: Sc2Server, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        ls.configure_repository()
        ls.check_open_documents()


def _after_edit(ls: Sc2Server, params: types.DidChangeTextDocumentParams) -> Request | None:
    """Where the cursor most likely is after an edit: right after the last change's text."""
    from sc2_lsp.completion_requests import request_for

    changes = [
        c for c in params.content_changes if isinstance(c, types.TextDocumentContentChangePartial)
    ]
    if not changes:
        return None
    last = changes[-1]
    start, lines = last.range.start, last.text.split("\n")
    line = start.line + len(lines) - 1
    character = (start.character if len(lines) == 1 else 0) + len(lines[-1])
    position = types.Position(line=line, character=character)
    return request_for(ls, params.text_document.uri, position, "automatic")


def notebook_changed(ls: Sc2Server, uri: str, opened: bool) -> None:
    """Show the notebook's current text to the repository (unless the notebook is refused)."""
    notebook = ls.workspace.get_notebook_document(notebook_uri=uri)
    path = documents.uri_to_path(uri)
    if notebook is None or path is None:
        return
    if ls.refusal(uri) is not None:
        if opened:
            ls.publish_status()
        return
    text = notebook_text(ls.workspace, notebook).text
    if opened:
        ls.repository.opened(path, text, "python")
    else:
        ls.repository.changed(path, text, "python", [])
