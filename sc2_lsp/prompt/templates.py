"""Fill-in-the-middle sentinels per model family, the templates built on them, and detection.

Owns `FIM_FAMILIES`, the one table of FIM sentinel texts (the GGUF check in `gguf_info` reads it
too), `FimTemplate` (a family's sentinels plus how one model frames a prompt with them) and
picking a template for a vocabulary. Sentinels are always turned into token ids by tokenizing
with `special=True` and checking each is exactly one token: a marker that silently splits into
ordinary pieces is the classic cause of garbage completions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FimFamily:
    """The FIM sentinels a family of models shares: per role, the spellings vocabularies use."""

    name: str
    prefix: tuple[str, ...]
    suffix: tuple[str, ...]
    middle: tuple[str, ...]


STARCODER_FIM = FimFamily("starcoder", ("<fim_prefix>",), ("<fim_suffix>",), ("<fim_middle>",))
SANTACODER_FIM = FimFamily("santacoder", ("<fim-prefix>",), ("<fim-suffix>",), ("<fim-middle>",))
QWEN_FIM = FimFamily("qwen", ("<|fim_prefix|>",), ("<|fim_suffix|>",), ("<|fim_middle|>",))
CODELLAMA_FIM = FimFamily(
    "codellama", ("<PRE>", "▁<PRE>"), ("<SUF>", "▁<SUF>"), ("<MID>", "▁<MID>")
)
DEEPSEEK_FIM = FimFamily("deepseek", ("<｜fim▁begin｜>",), ("<｜fim▁hole｜>",), ("<｜fim▁end｜>",))
# SantaCoder GGUFs pass the GGUF check but have no template yet: they get prefix-only prompts.
FIM_FAMILIES: tuple[FimFamily, ...] = (
    STARCODER_FIM,
    SANTACODER_FIM,
    QWEN_FIM,
    CODELLAMA_FIM,
    DEEPSEEK_FIM,
)


@dataclass(frozen=True, slots=True)
class FimTemplate:
    """How one model frames a prompt: its family's sentinels (first spelling) and the rest."""

    name: str
    family: FimFamily | None
    """None: no FIM, the prompt is the prefix alone."""
    file_sep: str | None = None
    repo_name: str | None = None
    stop: tuple[str, ...] = ()
    """Extra end markers; the vocabulary's end-of-text token is always a stop too."""
    repo_name_newline: bool = False
    """Qwen writes a newline after the repository name; StarCoder2 does not."""
    path_in_prefix: bool = True
    """StarCoder2 puts the current file's path right after `<fim_prefix>`."""
    marker_spacing: bool = False
    """CodeLlama's `<PRE> {prefix} <SUF>{suffix} <MID>` spacing."""

    @property
    def fim_prefix(self) -> str | None:
        return self.family.prefix[0] if self.family is not None else None

    @property
    def fim_suffix(self) -> str | None:
        return self.family.suffix[0] if self.family is not None else None

    @property
    def fim_middle(self) -> str | None:
        return self.family.middle[0] if self.family is not None else None

    @property
    def has_fim(self) -> bool:
        return self.family is not None


STARCODER2 = FimTemplate(
    name="starcoder2",
    family=STARCODER_FIM,
    file_sep="<file_sep>",
    repo_name="<repo_name>",
    stop=(
        "<|endoftext|>",
        "<fim_pad>",
        "<file_sep>",
        "<repo_name>",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
    ),
)
STARCODER = FimTemplate(
    name="starcoder",
    family=STARCODER_FIM,
    stop=(
        "<|endoftext|>",
        "<fim_pad>",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        "<filename>",
    ),
    path_in_prefix=False,
)
QWEN25_CODER = FimTemplate(
    name="qwen2.5-coder",
    family=QWEN_FIM,
    file_sep="<|file_sep|>",
    repo_name="<|repo_name|>",
    stop=(
        "<|endoftext|>",
        "<|fim_pad|>",
        "<|file_sep|>",
        "<|repo_name|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|im_end|>",
    ),
    repo_name_newline=True,
    path_in_prefix=False,
)
CODEGEMMA = FimTemplate(
    name="codegemma",
    family=QWEN_FIM,
    file_sep="<|file_separator|>",
    stop=(
        "<|file_separator|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<end_of_turn>",
        "<eos>",
    ),
    path_in_prefix=False,
)
CODELLAMA = FimTemplate(
    name="codellama",
    family=CODELLAMA_FIM,
    stop=("<EOT>", "</s>"),
    path_in_prefix=False,
    marker_spacing=True,
)
DEEPSEEK_CODER = FimTemplate(
    name="deepseek-coder",
    family=DEEPSEEK_FIM,
    stop=("<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    path_in_prefix=False,
)
PREFIX_ONLY = FimTemplate(name="prefix-only", family=None)

# Most specific first: Qwen and CodeGemma share the FIM markers and differ by file separator,
# StarCoder2 and StarCoder share them and differ by `<file_sep>`.
TEMPLATES: tuple[FimTemplate, ...] = (
    STARCODER2,
    QWEN25_CODER,
    CODEGEMMA,
    STARCODER,
    CODELLAMA,
    DEEPSEEK_CODER,
    PREFIX_ONLY,
)
BY_NAME = {template.name: template for template in TEMPLATES}


@dataclass(frozen=True, slots=True)
class BoundTemplate:
    """A template whose markers were resolved to token ids in one vocabulary."""

    template: FimTemplate
    fim_prefix: int | None
    fim_suffix: int | None
    fim_middle: int | None
    file_sep: int | None
    repo_name: int | None
    stop_ids: frozenset[int]

    @property
    def name(self) -> str:
        return self.template.name


SingleToken = Callable[[str], "int | None"]
"""Returns the id when the text is exactly one special token of the vocabulary."""


def bind(template: FimTemplate, single_token: SingleToken, eog_ids: Sequence[int]) -> BoundTemplate:
    """Resolve a template's markers; raises ValueError if a FIM marker is not one token."""

    def required(marker: str | None) -> int | None:
        if marker is None:
            return None
        token = single_token(marker)
        if token is None:
            raise ValueError(f"template {template.name}: {marker!r} is not a single token here")
        return token

    def optional(marker: str | None) -> int | None:
        return None if marker is None else single_token(marker)

    stops = {token for marker in template.stop if (token := single_token(marker)) is not None}
    return BoundTemplate(
        template=template,
        fim_prefix=required(template.fim_prefix),
        fim_suffix=required(template.fim_suffix),
        fim_middle=required(template.fim_middle),
        file_sep=optional(template.file_sep),
        repo_name=optional(template.repo_name),
        stop_ids=frozenset(stops | set(eog_ids)),
    )


def detect(single_token: SingleToken, eog_ids: Sequence[int], name: str = "auto") -> BoundTemplate:
    """The template `name`, or with "auto" the first whose markers all exist in the vocabulary."""
    if name != "auto":
        if name not in BY_NAME:
            known = ", ".join(BY_NAME)
            raise ValueError(f"unknown template {name!r}; known: auto, {known}")
        return bind(BY_NAME[name], single_token, eog_ids)
    for template in TEMPLATES:
        markers = [template.fim_prefix, template.fim_suffix, template.fim_middle, template.file_sep]
        if all(marker is None or single_token(marker) is not None for marker in markers):
            return bind(template, single_token, eog_ids)
    return bind(PREFIX_ONLY, single_token, eog_ids)
