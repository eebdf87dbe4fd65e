"""What the server asks of the client, each only where the client says it can: its settings
(`workspace/configuration`), file-change reports, load progress, Markdown documentation."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


def supports_markdown(server: LanguageServer) -> bool:
    document = server.client_capabilities.text_document
    completion = document.completion if document else None
    item = completion.completion_item if completion else None
    formats = item.documentation_format if item else None
    return bool(formats and types.MarkupKind.Markdown in formats)


async def configuration(server: LanguageServer, section: str) -> Sequence[Any] | None:
    """The client's settings under `section` (`workspace/configuration`); None when the client
    cannot or did not answer."""
    capabilities = server.client_capabilities.workspace
    if not (capabilities and capabilities.configuration):
        return None
    try:
        answer: Sequence[Any] = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=section)])
        )
    except Exception as error:
        log.warning("workspace/configuration failed: %s", error)
        return None
    return answer


async def watch_files(server: LanguageServer) -> None:
    """Ask the client to report file changes on disk, so the index never re-walks."""
    workspace = server.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if not (watched and watched.dynamic_registration):
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
    )
    registration = types.Registration(
        id="sc2-watch",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=options,
    )
    try:
        await server.client_register_capability_async(
            types.RegistrationParams(registrations=[registration])
        )
    except Exception as error:
        log.info("file watching not available: %s", error)


async def begin_progress(server: LanguageServer, title: str, message: str) -> str | None:
    """Start a work-done progress report; its token, or None where the client shows none."""
    window = server.client_capabilities.window
    if not (window and window.work_done_progress):
        return None
    token = f"sc2-load-{uuid.uuid4().hex[:8]}"
    try:
        await server.work_done_progress.create_async(token)
    except Exception:
        return None
    server.work_done_progress.begin(
        token, types.WorkDoneProgressBegin(title=title, message=message)
    )
    return token


def end_progress(server: LanguageServer, token: str | None, message: str) -> None:
    if token is not None:
        server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
