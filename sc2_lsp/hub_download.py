"""Resumable download of one file from a Hugging Face hub (or a mirror at ``HF_ENDPOINT``).

huggingface_hub 2.x deletes its partial file whenever ``hf_hub_download`` fails, so an
interrupted multi-GB model download would start over. ``download`` keeps its own partial
file (``FILE.<etag hash>.part`` next to the target, discarded when the upstream file
changes) and hands it to huggingface_hub's ``http_get`` with ``resume_size``, which sends a
Range request. The HEAD request, auth headers, endpoint handling, in-download retries and
the progress bar are huggingface_hub's; this module adds only the persistence, a lock,
a free-space check and the final atomic rename.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import (  # type: ignore[attr-defined]  # lazy re-exports
    WeakFileLock,
    build_hf_headers,
    silent_tqdm,
)
from huggingface_hub.utils import tqdm as hf_tqdm  # type: ignore[attr-defined]

from sc2_lsp import __version__
from sc2_lsp.gguf_info import ModelError

__all__ = ["download", "partial_files"]

_log = logging.getLogger(__name__)


def partial_files(dest: Path) -> list[Path]:
    """Unfinished downloads of ``dest`` (normally zero or one)."""
    return sorted(p for p in dest.parent.glob(f"{dest.name}.*.part") if p.is_file())


def _etag_timeout() -> float:
    # Read at call time: huggingface_hub reads HF_HUB_ETAG_TIMEOUT only once, at import.
    try:
        return float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or constants.HF_HUB_ETAG_TIMEOUT)
    except ValueError:
        return float(constants.DEFAULT_ETAG_TIMEOUT)


def _progress_bar(enabled: bool) -> Any:
    """A ``tqdm_class`` for ``http_get``: a factory, so we choose the stream and visibility."""
    bar: Any = hf_tqdm if enabled else silent_tqdm

    def make(**kwargs: Any) -> Any:
        # Always stderr (stdout is the LSP channel) and shown even when it is not a TTY;
        # HF_HUB_DISABLE_PROGRESS_BARS still wins inside huggingface_hub's tqdm.
        return bar(file=sys.stderr, disable=False, name="huggingface_hub.http_get", **kwargs)

    return make


def download(
    repo_id: str,
    filename: str,
    dest: Path,
    lock: Path,
    endpoint: str | None = None,
    progress: bool = True,
) -> None:
    """Fetch ``repo_id``/``filename`` (revision main) to ``dest``, resuming a partial file.

    Raises huggingface_hub's errors (HTTP status, offline mode), httpx2 transport errors and
    ``OSError`` as they come; ``ModelError`` for a busy lock, missing ETag or too little space.
    """
    url = hf_hub_url(repo_id, filename, endpoint=endpoint)
    headers = build_hf_headers(library_name="sc2-lsp", library_version=__version__)
    meta = get_hf_file_metadata(url, timeout=_etag_timeout(), headers=headers, endpoint=endpoint)
    if not meta.etag:
        raise ModelError(
            f"{url} answered without an ETag, so the download could not be resumed safely; "
            "check that HF_ENDPOINT points to a Hugging Face hub."
        )
    partial = dest.with_name(
        f"{dest.name}.{hashlib.sha256(meta.etag.encode()).hexdigest()[:16]}.part"
    )
    lock.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        try:
            stack.enter_context(WeakFileLock(lock, timeout=1))
        except TimeoutError:
            raise ModelError(
                f"another sc2-lsp process is downloading {repo_id}:{filename}; "
                "wait for it to finish."
            ) from None
        for stale in partial_files(dest):
            if stale != partial:
                stale.unlink()  # the file changed upstream; its bytes are useless now
        have = partial.stat().st_size if partial.exists() else 0
        if meta.size is not None and have > meta.size:
            partial.unlink()
            have = 0
        free = shutil.disk_usage(dest.parent).free
        if meta.size is not None and meta.size - have > free:
            raise ModelError(
                f"not enough disk space for {filename}: it needs "
                f"{(meta.size - have) / 1e9:.2f} GB more, {dest.parent} has {free / 1e9:.2f} GB "
                "free. Free some space or set SC2_LSP_MODEL_DIR to another disk."
            )
        if have:
            _log.info("resuming %s at byte %d", filename, have)
        get_headers = dict(headers)
        if urlsplit(meta.location).netloc != urlsplit(url).netloc:
            get_headers.pop("authorization", None)  # never send the token to a CDN
        try:
            with partial.open("ab") as fh:
                http_get(
                    meta.location,
                    fh,
                    resume_size=have,
                    headers=get_headers,
                    expected_size=meta.size,
                    displayed_filename=filename,
                    tqdm_class=_progress_bar(progress),
                )
        finally:
            if partial.exists() and partial.stat().st_size == 0:
                partial.unlink()  # nothing to resume from; don't report a half download
        os.replace(partial, dest)
