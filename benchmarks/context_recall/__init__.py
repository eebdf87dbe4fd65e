"""Repository-context recall on real code, CrossCodeEval-style, against three baselines.

Owns: the recall benchmark of repository context.  It copies projects nobody here wrote
(huggingface_hub and hypothesis from the venv, the standard library's asyncio, the system
npm's JavaScript) into `benchmarks/.work/context_recall/`, finds with tree-sitter the usages of
symbols defined in exactly one *other* file of the same project, and puts the cursor right
before such an identifier (right after the `.` for attribute access) with the rest of the
cursor line dropped, as CrossCodeEval does.  A position counts as recalled when the
definition's signature line appears in the prompt's context part (a `<file_sep>` snippet of
the defining file, before `<fim_prefix>`).

Measured at each prompt budget (`--max-prompt-tokens`):

* ours: the real CLI path, `sc2-lsp prompt --workspace … --batch …` (one process per
  project, round and budget; its per-position `ms` is the window+gather+prompt time);
* in-file: the same FIM window and no context at all;
* Jaccard: 20-line windows (stride 10) of the 10 most recently modified files (mtimes set
  from a seeded shuffle), best Jaccard similarity to the 20 lines before the cursor first;
* BM25: the same windows over every other file of the project, query = the same lines.

Baselines are built in-process with the same `prepare` (same window, budget, tokenizer and
prompt layout); only the context provider differs.  Gather latency (cold and warm), index
time and index memory are measured in-process on `RepositoryContext`, in a phase of their own.

Each file holds at most one cursor per *round*: a round is a copy of the project in which the
cursor lines of that round's positions are cut, so every document is the project's file with
exactly its own cursor line cut, and no round cuts a line of a file that defines one of its
targets.  Deterministic: fixed seed, copies with fixed mtimes.

    python -m benchmarks.context_recall [--positions 200] [--budgets 1024 2048 4096]
        [--projects asyncio npm …] [--out benchmarks/results/context_recall.json]
"""
