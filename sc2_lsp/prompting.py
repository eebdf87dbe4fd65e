"""From a request to the exact prompt token ids: everything before the model call.

snapshot + cursor → syntax (completion mode) → file window (kept in place while it fits) and
repository context → token ids, with the generation parameters and post-processing context.
Synchronous and needing only a tokenizer, so `sc2-lsp prompt` shows exactly what the server
would send to the model.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Literal

from sc2_lsp import healing, postprocess, syntax
from sc2_lsp.config import Settings
from sc2_lsp.documents import Cursor, Snapshot
from sc2_lsp.engine import GenerationParams, Tokenizer, common_prefix
from sc2_lsp.languages import language_for
from sc2_lsp.prompt import (
    ContextFile,
    FimInput,
    Prompt,
    Tokenize,
    build,
    fim_window,
    near_suffix_end,
)
from sc2_lsp.prompt.templates import BoundTemplate

Trigger = Literal["automatic", "invoked"]
REUSE_CHUNK_MIN = 16
MIN_PROMPT_TOKENS = 128
MARKER_ALLOWANCE = 16
"""Tokens kept free for sentinels, the path and rounding in per-line counts."""
VIEW_CHARS = 1 << 18
"""A longer document is seen through whole lines up to this far either side of the cursor:
no prompt needs more, and a 10 MB file must not cost full-text scans on every request."""
LONG_LINE_CHARS = 1 << 14
"""On a longer line (minified code) the view keeps this much either side of the cursor."""
VIEW_GRID = 1 << 12
WINDOW_SLACK = 8
"""A new file window leaves 1/8 of the prefix budget free, so it can be kept while typing."""


@dataclass(frozen=True, slots=True)
class Request:
    snapshot: Snapshot
    cursor: Cursor
    root: Path | None = None
    """The workspace folder that holds the document, if any."""
    trigger: Trigger = "automatic"
    speculative: bool = False
    """A state the user may reach (prefetch): it must not move what real requests keep."""
    keep_start: int | None = None
    """Where the previous prompt's file window started, to keep it there while it fits."""
    near_suffix_tokens: int = 0
    """Beyond the rest of the cursor's line, how many tokens of its block the FIM suffix may
    hold (`prompt.suffixLayout: "split"`); the rest of the suffix goes before the file."""


@dataclass(frozen=True, slots=True)
class Prepared:
    prompt: Prompt
    post: postprocess.PostContext
    params: GenerationParams
    window: tuple[int, int]
    context: tuple[ContextFile, ...] = ()

    @property
    def stop_rule(self) -> Callable[[str], bool]:
        """Whether generated text may stop: past the healed text, the suggestion is complete.
        Made of module functions and small values: it is pickled to the engine process."""
        return partial(
            healing.should_stop_after,
            healed=self.params.healed,
            should_stop=partial(postprocess.should_stop, ctx=self.post),
        )

    def suggestion(self, generated: str) -> str:
        """What generated text suggests: the healed text dropped, the rest cleaned."""
        return postprocess.clean(healing.strip(generated, self.params.healed), self.post)


ContextProvider = Callable[
    [Request, tuple[int, int], int, Callable[[str], int]], Sequence[ContextFile]
]
"""(request, window, budget in tokens, token counter) → files to put before the current one."""


def relative_path(path: Path | None, root: Path | None) -> str | None:
    if path is None:
        return None
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


def post_context(
    text: str, offset: int, cursor_syntax: syntax.CursorSyntax, max_lines: int
) -> postprocess.PostContext:
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    following = text[line_end + 1 :].split("\n", 6)[:5] if line_end < len(text) else []
    return postprocess.PostContext(
        mode=cursor_syntax.mode,
        indent=cursor_syntax.indent,
        line_prefix=text[line_start:offset],
        line_suffix=text[offset:line_end].rstrip("\r"),
        next_lines=tuple(line.rstrip("\r") for line in following),
        max_lines=max_lines,
    )


def completion_mode(request: Request, settings: Settings) -> syntax.CursorSyntax:
    snapshot = request.snapshot
    path = snapshot.path
    language = language_for(snapshot.language_id, str(path) if path else None)
    found = syntax.analyze(
        snapshot.text,
        request.cursor.offset,
        language,
        max_line_suffix=settings.completion.max_line_suffix,
    )
    mode = found.mode
    if mode == "skip" and request.trigger == "invoked":
        mode = "line"
    if mode == "block" and settings.completion.multiline == "never":
        mode = "line"
    elif mode == "line" and settings.completion.multiline == "always":
        mode = "block"
    return syntax.CursorSyntax(
        mode=mode, indent=found.indent, in_comment=found.in_comment, in_string=found.in_string
    )


def view(request: Request) -> tuple[Request, int]:
    """The request seen through a bounded slice of its text, and where that slice starts.

    Documents under `VIEW_CHARS` with ordinary lines are returned as they are.
    """
    text, offset = request.snapshot.text, request.cursor.offset
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    if len(text) <= VIEW_CHARS and line_end - line_start <= LONG_LINE_CHARS:
        return request, 0
    if line_end - line_start > LONG_LINE_CHARS:
        start = max(line_start, offset - LONG_LINE_CHARS)
        end = min(line_end, offset + LONG_LINE_CHARS)
    else:
        # Start on a coarse grid, so typing does not move the window (KV-cache reuse).
        low = max(0, offset - VIEW_CHARS) // VIEW_GRID * VIEW_GRID
        newline = text.find("\n", low, line_start) if low else -1
        start = 0 if not low else newline + 1 if newline >= 0 else line_start
        high = offset + VIEW_CHARS
        newline = text.rfind("\n", line_end, high) if high < len(text) else len(text) - 1
        end = newline + 1 if newline >= 0 else line_end
    snapshot = replace(request.snapshot, text=text[start:end])
    cursor = replace(request.cursor, offset=offset - start)
    return replace(request, snapshot=snapshot, cursor=cursor), start


def prepare(
    request: Request,
    settings: Settings,
    tokenizer: Tokenizer,
    template: BoundTemplate,
    n_ctx: int,
    count_tokens: Callable[[str], int] | TokenCache | None = None,
    context_provider: ContextProvider | None = None,
    max_prompt_tokens: int | None = None,
) -> Prepared | None:
    """Everything up to the model call; None when the cursor should get no completion."""
    request, view_start = view(request)
    cursor_syntax = completion_mode(request, settings)
    if cursor_syntax.mode == "skip":
        return None
    count = count_tokens or tokenizer.count
    tokenize = count_tokens.ids if isinstance(count_tokens, TokenCache) else tokenizer.tokenize
    text, offset = request.snapshot.text, request.cursor.offset
    completion = settings.completion
    max_new = completion.max_tokens if cursor_syntax.mode == "block" else completion.max_tokens_line
    budget, extra = _budget(request, settings, max_new, n_ctx, max_prompt_tokens)
    suffix_budget = min(settings.prompt.suffix_tokens, budget // 4)
    prefix_budget = min(settings.prompt.prefix_tokens, budget - suffix_budget)
    keep = None if request.keep_start is None else request.keep_start - view_start
    start, end = fim_window(
        text,
        offset,
        prefix_budget - prefix_budget // WINDOW_SLACK,
        suffix_budget,
        count,
        keep_start=keep,
        keep_budget=prefix_budget + extra,
    )
    path = (
        relative_path(request.snapshot.path, request.root) if settings.prompt.include_path else None
    )
    near_end = end
    if _splits_suffix(settings, template):
        near_end = near_suffix_end(text, offset, end, request.near_suffix_tokens, count)
    fim = FimInput(
        prefix=text[start:offset],
        suffix=text[offset:near_end],
        path=path,
        repo_name=request.root.name if request.root and settings.prompt.repo_name else None,
        order=settings.prompt.fim_order,
        far_suffix=text[near_end:end],
    )
    context: tuple[ContextFile, ...] = ()
    if context_provider is not None and template.file_sep is not None:
        used = count(fim.prefix) + count(fim.suffix) + count(fim.far_suffix)
        context = tuple(context_provider(request, (start, end), budget - used, count))
    prompt, context, start = _fit(
        replace(fim, context=context),
        text,
        start,
        offset,
        budget + MARKER_ALLOWANCE,
        lambda fim: _build(fim, template, tokenizer, tokenize),
    )
    prompt, healed = healing.heal(prompt, tokenizer.piece, settings.healing)
    params = _params(settings, template, max_new, healed)
    post = post_context(text, offset, cursor_syntax, completion.max_lines)
    window = (view_start + start, view_start + end)
    return Prepared(prompt=prompt, post=post, params=params, window=window, context=context)


def _budget(
    request: Request,
    settings: Settings,
    max_new: int,
    n_ctx: int,
    max_prompt_tokens: int | None,
) -> tuple[int, int]:
    """Tokens the prompt may take (markers apart), and how many of them a prefetch adds."""
    limit = min(
        settings.prompt.max_prompt_tokens, max_prompt_tokens or settings.prompt.max_prompt_tokens
    )
    # A prefetched state holds a suggestion more than the request it comes from; it may grow
    # by that much so it keeps the same window and context (and their KV cache) as typing.
    extra = max_new if request.speculative else 0
    return min(limit + extra, n_ctx - max_new) - MARKER_ALLOWANCE, extra


def _params(
    settings: Settings, template: BoundTemplate, max_new: int, healed: str
) -> GenerationParams:
    completion = settings.completion
    return GenerationParams(
        max_tokens=max_new,
        temperature=completion.temperature,
        top_k=completion.top_k,
        top_p=completion.top_p,
        stop_ids=template.stop_ids,
        time_budget_s=completion.max_predict_ms / 1000,
        reuse_chunk_min=REUSE_CHUNK_MIN if settings.prompt.reuse_chunks else 0,
        healed=healed,
    )


def _splits_suffix(settings: Settings, template: BoundTemplate) -> bool:
    """The near/far suffix layout applies to PSM prompts of templates with a file separator."""
    return (
        settings.prompt.suffix_layout == "split"
        and settings.prompt.fim_order == "psm"
        and template.template.has_fim
        and template.file_sep is not None
    )


def new_tokens(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """Prompt tokens the engine would have to evaluate with `cached` in its KV cache."""
    return len(prompt) - common_prefix(cached, prompt)


def accepted_state(request: Request, inserted: str) -> Request:
    """The request an editor would send after `inserted` was accepted at the cursor."""
    snapshot, offset = request.snapshot, request.cursor.offset
    text = snapshot.text[:offset] + inserted + snapshot.text[offset:]
    end = offset + len(inserted)
    line_start = text.rfind("\n", 0, end) + 1
    cursor = Cursor(offset=end, line=text.count("\n", 0, end), column=end - line_start)
    return Request(
        replace(snapshot, text=text, version=None),
        cursor,
        request.root,
        "automatic",
        speculative=True,
    )


def _fit(
    fim: FimInput,
    text: str,
    start: int,
    offset: int,
    limit: int,
    build_prompt: Callable[[FimInput], Prompt],
) -> tuple[Prompt, tuple[ContextFile, ...], int]:
    """The prompt within `limit` tokens, with the context and window start that gave it.

    The window's per-line counts are estimates: context files are dropped from the last, then
    prefix lines from the top, until the built prompt fits.
    """
    prompt = build_prompt(fim)
    while len(prompt) > limit:
        if fim.context:
            fim = replace(fim, context=fim.context[:-1])
        elif start < offset:
            start = text.find("\n", start, offset) + 1 or offset
            fim = replace(fim, prefix=text[start:offset])
        else:
            break
        prompt = build_prompt(fim)
    return prompt, fim.context, start


def _build(
    fim: FimInput, template: BoundTemplate, tokenizer: Tokenizer, tokenize: Tokenize
) -> Prompt:
    return build(fim, template, tokenize, tokenizer.bos_id, tokenizer.token_text)


class TokenCache:
    """Token ids of recently tokenized texts, bounded by the bytes they hold, not their number.

    Context snippets, the path line and most lines repeat from keystroke to keystroke and are
    worth keeping (tokenizing them is most of the time spent preparing a prompt); the whole
    prefix and suffix change with every keystroke, and 65,536 of them (an `lru_cache`'s
    worth) pinned hundreds of megabytes over a day of typing. The bound counts the text and
    the ids (4 bytes each, more than the text itself for most code), so it fills within a few
    hundred keystrokes and then stays put.
    """

    def __init__(self, tokenize: Tokenize, max_bytes: int = 1 << 20) -> None:
        self._tokenize = tokenize
        self._cache: OrderedDict[str, array[int]] = OrderedDict()
        self.bytes = 0
        self.max_bytes = max_bytes

    def __call__(self, text: str) -> int:
        return len(self._lookup(text))

    def ids(self, text: str) -> list[int]:
        return self._lookup(text).tolist()

    def _lookup(self, text: str) -> array[int]:
        found = self._cache.get(text)
        if found is not None:
            self._cache.move_to_end(text)
            return found
        result = array("i", self._tokenize(text))
        size = _cost(text, result)
        if size <= self.max_bytes // 64:
            self._cache[text] = result
            self.bytes += size
            while self.bytes > self.max_bytes:
                evicted, ids = self._cache.popitem(last=False)
                self.bytes -= _cost(evicted, ids)
        return result


def _cost(text: str, ids: array[int]) -> int:
    return len(text) + ids.itemsize * len(ids)
