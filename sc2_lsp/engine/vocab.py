"""A model's vocabulary through llama.cpp, loaded alone: no weights, milliseconds.

`Tokenizer` is what the language server process keeps (prompts are built as token ids here;
the engine process, or a remote server, only ever gets ids). `LlamaModel` wraps the same class
around the vocabulary of the model it loaded.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp import _internals

from sc2_lsp.engine import EngineError
from sc2_lsp.prompt.templates import BoundTemplate, detect

_SPECIAL_ATTRS = 0
for _name in (
    "LLAMA_TOKEN_ATTR_CONTROL",
    "LLAMA_TOKEN_ATTR_USER_DEFINED",
    "LLAMA_TOKEN_ATTR_UNKNOWN",
):
    _SPECIAL_ATTRS |= int(getattr(llama_cpp, _name, 0))


@functools.cache
def backend_init() -> None:
    """Load llama.cpp's backends once; `Llama` does this itself, a bare vocabulary load does not."""
    llama_cpp.llama_backend_init()


def check_file(path: Path) -> None:
    if not path.is_file():
        raise EngineError(f"model file not found: {path}")
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise EngineError(f"{path} is not a GGUF file (llama.cpp needs .gguf models)")


class Tokenizer:
    """A model's vocabulary: text ↔ token ids, special-token lookup, template detection."""

    def __init__(self, model: Any, owner: Any = None) -> None:
        self._model = model
        self._owner = owner  # keeps a vocab-only model alive as long as we are
        self.n_vocab = int(model.n_vocab())
        self.add_bos = bool(model.add_bos_token())
        self.bos_id: int | None = int(model.token_bos()) if self.add_bos else None
        self.specials = self._special_tokens()
        vocab = self._vocab = llama_cpp.llama_model_get_vocab(model.model)
        self.eog_ids = frozenset(
            token for token in self.specials.values() if llama_cpp.llama_vocab_is_eog(vocab, token)
        )

    @classmethod
    def load(cls, path: Path) -> Tokenizer:
        """Read only the vocabulary of the GGUF at `path` (milliseconds, no weights)."""
        check_file(path)
        backend_init()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        # GPU builds default to offloading every layer; with no weights that crashes llama.cpp.
        params.n_gpu_layers = 0
        try:
            model = _internals.LlamaModel(path_model=str(path), params=params, verbose=False)
        except Exception as error:
            raise EngineError(
                f"llama.cpp could not read the vocabulary of {path}: {error}"
            ) from error
        return cls(model, owner=model)

    def _special_tokens(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for token in range(self.n_vocab):
            if int(self._model.token_get_attr(token)) & _SPECIAL_ATTRS:
                found.setdefault(self._model.token_get_text(token), token)
        return found

    def single_token(self, text: str) -> int | None:
        """The id of the special token spelled `text` (SentencePiece's `▁` prefix allowed)."""
        return self.specials.get(text, self.specials.get("▁" + text))

    def token_text(self, token: int) -> str:
        return str(self._model.token_get_text(token))

    def tokenize(self, text: str) -> list[int]:
        """Token ids of plain text: no BOS, and sentinel spellings stay ordinary text."""
        if not text:
            return []
        data = text.encode("utf-8")
        # A token covers at least one byte. llama-cpp-python's own wrapper allocates a buffer of
        # n_ctx_train tokens per call (and tokenizes twice when that is 0, as in a vocab-only load).
        room = len(data) + 1
        buffer = (llama_cpp.llama_token * room)()
        count = llama_cpp.llama_tokenize(self._vocab, data, len(data), buffer, room, False, False)
        if count < 0:
            raise EngineError(f"llama.cpp could not tokenize {len(data)} bytes of text")
        return buffer[:count]

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for; control tokens are empty."""
        return self._piece(token, (ctypes.c_char * 64)())

    def pieces(self) -> list[bytes]:
        """Every token's bytes, in id order."""
        buffer = (ctypes.c_char * 256)()
        return [self._piece(token, buffer) for token in range(self.n_vocab)]

    def _piece(self, token: int, buffer: Any) -> bytes:
        # llama-cpp-python's own detokenize gives b"" for tokens over 32 bytes (long indents).
        count = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        if count < 0:
            buffer = (ctypes.c_char * -count)()
            count = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -count, 0, False)
        return bytes(buffer[:count])

    def template(self, name: str = "auto") -> BoundTemplate:
        try:
            return detect(self.single_token, sorted(self.eog_ids), name)
        except ValueError as error:
            raise EngineError(str(error)) from error
