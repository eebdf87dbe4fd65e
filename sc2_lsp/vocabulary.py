"""A model's vocabulary alone: read from the head of a model's GGUF, kept as a GGUF of its own.

A remote engine needs only the served model's tokenizer here, which a GGUF keeps in its
metadata, before the weights: `sc2-lsp model pull 3b --vocab-only` reads the download until
that metadata is complete (a few MB of a multi-GB file), stops, and writes it as a
vocabulary-only GGUF with no tensors, which llama.cpp reads like the one in `tests/data`.
Owns where such a file lives next to its model (`vocab_path`), finding the end of a GGUF's
metadata, and the fetch itself.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from sc2_lsp.gguf_info import ModelError

CHUNK = 4 << 20
MAX_METADATA = 256 << 20
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_HEADER = struct.Struct("<4sIQQ")
ALIGNMENT = 32


def vocab_path(model: Path) -> Path:
    """Where the vocabulary of the model file `model` is kept: `NAME.vocab.gguf` beside it."""
    return model.with_name(model.name.removesuffix(".gguf") + ".vocab.gguf")


def metadata_end(head: bytes) -> int | None:
    """The offset where a GGUF's metadata (header and key-values) ends; None when `head` is too
    short to tell. Raises ModelError for a file that is no GGUF."""
    if len(head) < _HEADER.size:
        return None
    magic, version, _tensors, n_kv = _HEADER.unpack_from(head)
    if magic != b"GGUF" or version < 2:
        raise ModelError("the file is not a GGUF (version 2 or later)")
    try:
        offset = _HEADER.size
        for _ in range(n_kv):
            offset = _skip_string(head, offset)
            (kind,) = struct.unpack_from("<I", head, offset)
            offset = _skip_value(head, offset + 4, kind)
    except struct.error:
        return None
    return offset if offset <= len(head) else None


def _skip_string(head: bytes, offset: int) -> int:
    (length,) = struct.unpack_from("<Q", head, offset)
    return offset + 8 + int(length)


def _skip_value(head: bytes, offset: int, kind: int) -> int:
    if kind in _SCALAR_SIZES:
        return offset + _SCALAR_SIZES[kind]
    if kind == _STRING:
        return _skip_string(head, offset)
    if kind != _ARRAY:
        raise ModelError(f"unknown GGUF value type {kind}")
    element, count = struct.unpack_from("<IQ", head, offset)
    offset += 12
    if element in _SCALAR_SIZES:
        return offset + int(count) * _SCALAR_SIZES[element]
    for _ in range(count):
        offset = _skip_value(head, offset, element)
        if offset > len(head):
            raise struct.error("past the end")
    return offset


def vocab_only(head: bytes, end: int) -> bytes:
    """The GGUF of `head`'s metadata with no tensors: what llama.cpp's vocab-only load reads."""
    magic, version, _tensors, n_kv = _HEADER.unpack_from(head)
    body = _HEADER.pack(magic, version, 0, n_kv) + head[_HEADER.size : end]
    return body + bytes(-len(body) % ALIGNMENT)


def pull_vocabulary(repo_id: str, filename: str, dest: Path, endpoint: str | None) -> Path:
    """Read `repo_id`/`filename` until its metadata is complete, then stop; write `dest`."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session  # type: ignore[attr-defined]

    from sc2_lsp import __version__

    url = hf_hub_url(repo_id, filename, endpoint=endpoint)
    headers = build_hf_headers(library_name="sc2-lsp", library_version=__version__)
    head, end, checked = b"", None, 0
    with get_session().stream("GET", url, headers=headers, follow_redirects=True) as response:
        response.raise_for_status()
        for data in response.iter_bytes():
            head += data
            if len(head) - checked >= CHUNK:  # parsing is not free: every few MB
                checked = len(head)
                if (end := metadata_end(head)) is not None:
                    break
            if len(head) > MAX_METADATA:
                raise ModelError(f"{filename} has more than {MAX_METADATA >> 20} MB of metadata")
    end = end if end is not None else metadata_end(head)
    if end is None:
        raise ModelError(f"{url} ended before the GGUF metadata did")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = dest.with_name(dest.name + ".part")
    staged.write_bytes(vocab_only(head, end))
    os.replace(staged, dest)
    return dest
