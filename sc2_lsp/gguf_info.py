"""What a GGUF file is, and whether sc2-lsp can complete code with it.

Owns ``ModelError`` (the user-facing model problem), ``GgufInfo``, ``inspect_gguf`` (header
facts plus warnings about known-bad conversions), ``validate`` (refuses files that cannot do
completion at all); the FIM token families come from `prompt.templates`.

The header is parsed here rather than with ``gguf.GGUFReader``: the reader builds a numpy
view for every array element, which takes seconds on a 49k-token vocabulary, while we only
need scalar keys, the token texts and the tensor extents (to notice truncated downloads).
Value-type codes, key names and quantisation block sizes come from the ``gguf`` package.
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

from gguf import GGML_QUANT_SIZES, GGUF_MAGIC, GGMLQuantizationType, GGUFValueType, Keys
from gguf import LlamaFileType as _FileType

from sc2_lsp.prompt.templates import FIM_FAMILIES

__all__ = [
    "FIM_TOKEN_TEXTS",
    "STARCODER2_SPECIAL_IDS",
    "GgufInfo",
    "ModelError",
    "check_usable",
    "inspect_gguf",
    "validate",
]


class ModelError(Exception):
    """A user-facing problem with a model: message says what happened and what to do."""


FIM_TOKEN_TEXTS: frozenset[str] = frozenset(
    {
        text
        for family in FIM_FAMILIES
        for spellings in (family.prefix, family.suffix, family.middle)
        for text in spellings
    }
    | {"<fim_pad>", "<repo_name>", "<file_sep>", "<fim-pad>"}
    | {"<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|fim_repo|>", "<|file_separator|>"}
    | {"<EOT>", "▁<EOT>"}
)

# StarCoder2's vocabulary starts with these (starcoder2.md §1.1); other ids are irrelevant here.
STARCODER2_SPECIAL_IDS: dict[int, str] = {
    0: "<|endoftext|>",
    1: "<fim_prefix>",
    2: "<fim_middle>",
    3: "<fim_suffix>",
    4: "<fim_pad>",
    5: "<repo_name>",
    6: "<file_sep>",
}

# Architectures that load in llama.cpp but cannot generate text (encoders, vision towers...).
_NOT_GENERATIVE = frozenset(
    {"clip", "bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "neo-bert", "modern-bert"}
    | {"t5encoder", "wavtokenizer-dec"}
)

_FORMATS: dict[int, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}
_FIM_BYTES = {t.encode(): t for t in FIM_TOKEN_TEXTS}
_FIM_LENGTHS = frozenset(len(b) for b in _FIM_BYTES)
_GGML_MAX_DIMS = 4


@dataclass(frozen=True)
class GgufInfo:
    """Header facts of one GGUF file; ``warnings`` are problems that degrade completion."""

    path: Path
    architecture: str
    name: str | None
    n_ctx_train: int | None
    n_layer: int | None
    n_embd: int | None
    tokenizer_model: str | None
    tokenizer_pre: str | None
    n_vocab: int
    file_type: int | None
    size_bytes: int
    n_tensors: int
    fim_ids: dict[str, int]
    special_ids: dict[str, int]  # tokenizer.ggml.<name>_token_id keys, e.g. {"eos": 0}
    warnings: tuple[str, ...]
    weight_types: frozenset[str] = frozenset()
    """ggml type names of the tensors, e.g. {"Q4_K", "Q6_K", "F32"}."""

    @property
    def fim_family(self) -> str | None:
        """First ``FIM_FAMILIES`` entry whose prefix/suffix/middle tokens are all present."""
        for family in FIM_FAMILIES:
            roles = (family.prefix, family.suffix, family.middle)
            if all(any(alt in self.fim_ids for alt in alts) for alts in roles):
                return family.name
        if {"fim_pre", "fim_suf", "fim_mid"} <= self.special_ids.keys():
            return "metadata"
        return None

    @property
    def quantization(self) -> str | None:
        """``general.file_type`` as llama.cpp names it, e.g. ``"Q4_K_M"``."""
        if self.file_type is None:
            return None
        try:
            name = _FileType(self.file_type).name
        except ValueError:
            return f"type {self.file_type}"
        return name.removeprefix("MOSTLY_").removeprefix("ALL_")


class _Corrupt(Exception):
    pass


@dataclass
class _Header:
    version: int
    kv: dict[str, object]  # scalars and strings; arrays are stored as their length
    first_tokens: list[str]
    fim_ids: dict[str, int]
    n_tensors: int
    needed_bytes: int  # file size the tensor table implies
    weight_types: set[str] = field(default_factory=set)  # ggml type names of the tensors


class _Parser:
    def __init__(self, buf: mmap.mmap, endian: str) -> None:
        self.buf = buf
        self.size = len(buf)
        self.pos = 0
        self.e = endian
        self.u32 = struct.Struct(endian + "I")
        self.u64 = struct.Struct(endian + "Q")

    def read_u32(self) -> int:
        (value,) = self.u32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def read_u64(self) -> int:
        (value,) = self.u64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def read_bytes(self) -> bytes:
        n = self.read_u64()
        end = self.pos + n
        if end > self.size:
            raise _Corrupt(f"a string runs past the end of the file at offset {self.pos}")
        data = self.buf[self.pos : end]
        self.pos = end
        return data

    def read_str(self) -> str:
        return self.read_bytes().decode("utf-8", errors="replace")

    def read_value(self, vtype: int) -> object:
        if vtype == GGUFValueType.STRING:
            return self.read_str()
        if vtype == GGUFValueType.ARRAY:
            sub, count = self.read_u32(), self.read_u64()
            self.skip_array(sub, count)
            return count
        fmt = _FORMATS.get(vtype)
        if fmt is None:
            raise _Corrupt(f"unknown value type {vtype} at offset {self.pos}")
        (value,) = struct.unpack_from(self.e + fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def skip_array(self, sub: int, count: int) -> None:
        if sub in _FORMATS:
            end = self.pos + count * struct.calcsize(_FORMATS[sub])
            if end > self.size:
                raise _Corrupt("an array runs past the end of the file")
            self.pos = end
        elif sub == GGUFValueType.STRING:
            if count * 8 > self.size - self.pos:
                raise _Corrupt("an array runs past the end of the file")
            for _ in range(count):
                n = self.read_u64()
                self.pos += n
            if self.pos > self.size:
                raise _Corrupt("an array runs past the end of the file")
        elif sub == GGUFValueType.ARRAY:
            for _ in range(count):
                inner_sub, inner_count = self.read_u32(), self.read_u64()
                self.skip_array(inner_sub, inner_count)
        else:
            raise _Corrupt(f"unknown array element type {sub}")

    def read_tokens(self, count: int, header: _Header) -> None:
        """Walk the token list once, keeping the first few texts and any FIM sentinels."""
        buf, u64, size = self.buf, self.u64, self.size
        pos = self.pos
        for token_id in range(count):
            (n,) = u64.unpack_from(buf, pos)
            pos += 8
            if pos + n > size:
                raise _Corrupt("the token list runs past the end of the file")
            if token_id < 64 or n in _FIM_LENGTHS:
                raw = buf[pos : pos + n]
                if token_id < 64:
                    header.first_tokens.append(raw.decode("utf-8", errors="replace"))
                text = _FIM_BYTES.get(raw)
                if text is not None and text not in header.fim_ids:
                    header.fim_ids[text] = token_id
            pos += n
        self.pos = pos


def _parse(buf: mmap.mmap) -> _Header:
    (version,) = struct.unpack_from("<I", buf, 4)
    endian = "<"
    if version & 0xFFFF == 0:  # written on a big-endian machine
        endian = ">"
        (version,) = struct.unpack_from(">I", buf, 4)
    p = _Parser(buf, endian)
    p.pos = 8
    if version < 2:
        raise _Corrupt(f"GGUF version {version} is too old for current llama.cpp")
    n_tensors, n_kv = p.read_u64(), p.read_u64()
    if n_kv * 13 > p.size or n_tensors * 24 > p.size:
        raise _Corrupt(f"implausible header ({n_kv} keys, {n_tensors} tensors)")
    header = _Header(version, {}, [], {}, n_tensors, 0)
    for _ in range(n_kv):
        key = p.read_str()
        vtype = p.read_u32()
        if key == Keys.Tokenizer.LIST and vtype == GGUFValueType.ARRAY:
            sub, count = p.read_u32(), p.read_u64()
            if sub != GGUFValueType.STRING:
                raise _Corrupt(f"{key} is not a list of strings")
            p.read_tokens(count, header)
            header.kv[key] = count
        else:
            header.kv[key] = p.read_value(vtype)

    extents: list[int] = []
    for _ in range(n_tensors):
        name = p.read_str()
        n_dims = p.read_u32()
        if n_dims > _GGML_MAX_DIMS:
            raise _Corrupt(f"tensor {name!r} has {n_dims} dimensions")
        dims = [p.read_u64() for _ in range(n_dims)]
        ggml_type, offset = p.read_u32(), p.read_u64()
        try:
            quant = GGMLQuantizationType(ggml_type)
            block, type_size = GGML_QUANT_SIZES[quant]
        except (ValueError, KeyError):
            continue  # a type newer than our gguf package; llama.cpp will judge it
        header.weight_types.add(quant.name)
        extents.append(offset + math.prod(dims) // block * type_size)
    if extents:
        alignment = header.kv.get(Keys.General.ALIGNMENT, 32)
        align = alignment if isinstance(alignment, int) and alignment > 0 else 32
        data_start = -(-p.pos // align) * align
        header.needed_bytes = data_start + max(extents)
    return header


_CONVERT = "convert it with llama.cpp's convert_hf_to_gguf.py"


def _not_gguf_hint(head: bytes) -> str:
    if head.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the model itself (fetch it with `git lfs pull`)"
    if head.lstrip()[:1] == b"<":
        return "it looks like an HTML/XML page (a failed download?)"
    if head.startswith(b"PK\x03\x04"):
        return f"it looks like a PyTorch/zip checkpoint; {_CONVERT}"
    if len(head) > 8 and head[8:9] == b"{":
        return f"it looks like a safetensors file; {_CONVERT}"
    return f"it starts with {head[:4]!r}, not b'GGUF'"


def inspect_gguf(path: Path) -> GgufInfo:
    """Read the header of the GGUF at ``path``; raises ``ModelError`` if it is not a usable GGUF."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(
            f"model file not found: {path}. Run `sc2-lsp model pull` or pass --model PATH "
            "to an existing .gguf file."
        )
    if not path.is_file():
        raise ModelError(f"{path} is not a file; pass --model PATH to a .gguf file.")
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
            if len(head) < 4 or struct.unpack_from("<I", head)[0] != GGUF_MAGIC:
                why = _not_gguf_hint(head) if head else "it is empty"
                raise ModelError(
                    f"{path} is not a GGUF model: {why}. sc2-lsp needs a llama.cpp GGUF file "
                    "(try `sc2-lsp model pull`)."
                )
            if len(head) < 24:
                raise _Corrupt("the header is cut short")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                header = _parse(buf)
                size = len(buf)
    except (_Corrupt, struct.error, UnicodeDecodeError) as exc:
        detail = str(exc) if isinstance(exc, _Corrupt) else "the header ends early"
        raise ModelError(
            f"{path} is truncated or corrupt ({detail}). Delete it and download it again "
            "(`sc2-lsp model pull ...`)."
        ) from exc
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if header.needed_bytes > size:
        raise ModelError(
            f"{path} is truncated: it has {size} bytes but its tensors need "
            f"{header.needed_bytes} (an interrupted download?). Delete it and download it again."
        )
    return _make_info(path, size, header)


def _make_info(path: Path, size: int, h: _Header) -> GgufInfo:
    kv = h.kv

    def get_str(key: str) -> str | None:
        value = kv.get(key)
        return value if isinstance(value, str) else None

    def get_int(key: str) -> int | None:
        value = kv.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    arch = get_str(Keys.General.ARCHITECTURE)
    if not arch:
        raise ModelError(
            f"{path} has no general.architecture: it is not a llama.cpp model file "
            "(or it is corrupt). Pass --model PATH to a StarCoder2 GGUF."
        )
    special_ids = {
        key[len("tokenizer.ggml.") : -len("_token_id")]: value
        for key, value in kv.items()
        if key.startswith("tokenizer.ggml.") and key.endswith("_token_id")
        if isinstance(value, int) and not isinstance(value, bool)
    }
    info = GgufInfo(
        path=path,
        architecture=arch,
        name=get_str(Keys.General.NAME),
        n_ctx_train=get_int(Keys.LLM.CONTEXT_LENGTH.format(arch=arch)),
        n_layer=get_int(Keys.LLM.BLOCK_COUNT.format(arch=arch)),
        n_embd=get_int(Keys.LLM.EMBEDDING_LENGTH.format(arch=arch)),
        tokenizer_model=get_str(Keys.Tokenizer.MODEL),
        tokenizer_pre=get_str(Keys.Tokenizer.PRE),
        n_vocab=get_int(Keys.Tokenizer.LIST) or 0,
        file_type=get_int(Keys.General.FILE_TYPE),
        size_bytes=size,
        n_tensors=h.n_tensors,
        fim_ids=h.fim_ids,
        special_ids=special_ids,
        warnings=(),
        weight_types=frozenset(h.weight_types),
    )
    return replace(info, warnings=_warnings(info, h))


def _warnings(info: GgufInfo, h: _Header) -> tuple[str, ...]:
    out: list[str] = []
    if h.version > 3:
        out.append(f"GGUF version {h.version} is newer than this sc2-lsp knows (3)")
    starcoder2_vocab = all(
        id_ < len(h.first_tokens) and h.first_tokens[id_] == text
        for id_, text in STARCODER2_SPECIAL_IDS.items()
    )
    if info.tokenizer_model == "gpt2" and info.tokenizer_pre is None:
        fix = "--pre-tokenizer starcoder" if starcoder2_vocab else "--pre-tokenizer NAME"
        out.append(
            "tokenizer.ggml.pre is missing (converted before llama.cpp PR #6920, Apr 2024): "
            "llama.cpp falls back to its default pre-tokenizer, so generation quality is "
            "degraded; re-convert the model, or patch it with "
            f"`gguf-new-metadata {fix} IN.gguf OUT.gguf`"
        )
    elif starcoder2_vocab and info.tokenizer_pre not in (None, "starcoder"):
        out.append(
            f"tokenizer.ggml.pre is {info.tokenizer_pre!r}, but StarCoder2 was trained with the "
            "'starcoder' pre-tokenizer; patch it with "
            "`gguf-new-metadata --pre-tokenizer starcoder IN.gguf OUT.gguf`"
        )
    if info.architecture == "starcoder2" and info.n_vocab and not starcoder2_vocab:
        found = ", ".join(h.first_tokens[1:7])
        out.append(
            "this starcoder2 file's vocabulary does not start with StarCoder2's special tokens "
            f"(ids 1-6 are {found or 'missing'}); it may be a different tokenizer, so FIM "
            "prompts may not work"
        )
    if info.n_vocab and info.fim_family is None:
        out.append(
            "the vocabulary has no fill-in-the-middle tokens: completions will only see "
            "the text before the cursor"
        )
    return tuple(out)


def check_usable(info: GgufInfo) -> GgufInfo:
    """Raise ``ModelError`` when ``info`` describes a file that cannot do completion at all."""
    hint = "Pass --model PATH to a StarCoder2 GGUF or run `sc2-lsp model pull`."
    if info.n_vocab == 0:
        raise ModelError(
            f"{info.path} has no tokenizer (tokenizer.ggml.tokens is missing), so it cannot "
            f"be used for completion. {hint}"
        )
    if info.n_tensors == 0:
        raise ModelError(f"{info.path} is a vocabulary-only GGUF with no model weights. {hint}")
    if info.architecture in _NOT_GENERATIVE:
        raise ModelError(
            f"{info.path} is a {info.architecture!r} model, which cannot generate text. {hint}"
        )
    return info


def validate(path: Path) -> GgufInfo:
    """``inspect_gguf`` plus a ``ModelError`` when the file cannot do code completion at all.

    Accepted: any generative architecture with a tokenizer and weights. A vocabulary without
    FIM tokens is accepted (prefix-only completion) and says so in ``warnings``.
    """
    return check_usable(inspect_gguf(path))
