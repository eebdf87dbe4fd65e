"""The benchmark's fixed design: where it works, its seed, budgets and windows, and the
setup description written into every result.
"""

from __future__ import annotations

from benchmarks.common import ROOT
from tests.gguf_factory import STARCODER2_VOCAB

WORK = ROOT / "benchmarks" / ".work" / "context_recall"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "context_recall.json"
DEFAULT_VOCAB = STARCODER2_VOCAB
SEED = 20240611
BUDGETS = (1024, 2048, 4096)
QUERY_LINES = 20
WINDOW_LINES = 20
WINDOW_STRIDE = 10
RECENT_FILES = 10
MIN_NAME_LENGTH = 3
METHODS = ("ours", "in_file", "jaccard", "bm25")
SETUP = {
    "cursor": "right before the identifier, or right after the `.` of an attribute access; "
    "the rest of the cursor line is dropped (CrossCodeEval)",
    "positions": "usages of a function, class, method or module constant defined in exactly one "
    "other file of the project (not bound in the current file); at most one cursor per file per "
    "round, and no round cuts a line in a file that holds one of its definitions",
    "recall": "the definition's signature line (stripped) starts a line of a context snippet of "
    "the defining file, before <fim_prefix>",
    "budget": "--max-prompt-tokens: the whole prompt; context gets what the FIM window leaves",
    "ours": "sc2-lsp prompt --workspace ROUND --batch POSITIONS --max-prompt-tokens B --model VOCAB",
    "in_file": "the same prompt without repository context",
    "jaccard": f"{WINDOW_LINES}-line windows (stride {WINDOW_STRIDE}) of the {RECENT_FILES} most "
    f"recently modified files (seeded mtimes), best Jaccard similarity of identifier sets to "
    f"the {QUERY_LINES} lines before the cursor first, packed into the same budget",
    "bm25": f"the same windows over every other file of the project, BM25 (k1=1.5, b=0.75) of "
    f"the identifiers of the {QUERY_LINES} lines before the cursor",
    "gather_latency": "in-process RepositoryContext.provide at the 2048 budget with the server's "
    "tokenizer (a fully loaded model): cold = first request in a just-opened file, warm = the "
    "same request again (the next keystroke); wall and thread CPU time",
}
RANKED = 400  # more windows than any budget here can hold
CLI_WORKERS = 2
