"""Choosing the repository context for one completion, within a token budget.

`retrieve.gather` is the entry point. It analyses the cursor (`focus`), finds candidates
(`candidates`, and `members` for `receiver.|`), packs definitions as signatures then bodies
(`packing`, keeping one `selection.PackedFile` per file, rendered by `render`), and adds
recent edits (`recent`) and similar windows (`similar`); `caches` keeps the per-index memos
that make repeated requests cheap.
"""
