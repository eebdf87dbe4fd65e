"""Keystroke latency of the real server over LSP stdio, next to the ideal floor and naive baselines.

Owns the end-to-end typing-session replay and its results (`benchmarks/results/latency*`).
One run, one process, one after the other:

0. **a baseline commit** (with `--baseline REF`): the same session against that commit's
   server first, for a side-by-side table (see `servers.py`).
1. **ours**: `sc2-lsp --stdio`, started with `SC2_TRACE` so the server itself records every
   prompt it built, every generation with its exact prompt token ids, every engine job and
   every request's arrival and answer (`sc2_lsp/trace.py`; nothing is patched). A pygls
   client replays a
   scripted session on `latency_session/pygls/workspace/text_document.py` (real third-party
   code with its neighbours): characters typed one by one at 8-12 chars/s with incremental
   `didChange` + `textDocument/inlineCompletion` per keystroke, pauses, Tab-accepts followed
   by a new request at the new cursor (accept-then-continue), typing along a shown suggestion,
   backspaces, a word deletion and a jump to a function far away. Like an editor, a request
   still outstanding when the next keystroke arrives is cancelled with `$/cancelRequest`; every
   request must still get an answer. Pauses last their scripted time *and* until the last
   request is answered (the user waits for the ghost text), so on a slow CPU the typing bursts
   are real-time and mostly cancelled while every pause yields one measured completion.
2. **ideal floor**: the prompts that served answers, replayed in order in-process with
   llama-cpp-python on the same GGUF and thread count, reusing the KV cache of the longest
   common prefix with the previous prompt, generating the same number of tokens.
3. **naive**: a fresh KV cache for every prompt (full prompt evaluation) plus the same
   generation; measured on a sample of the prompts and extrapolated per prompt token.
4. **llama-server** (optional, once `make llama-server` has built it): the same prompts as
   `/infill` requests with `cache_prompt` against `llama-server --cache-reuse 256`.

    python -m benchmarks.latency            # 3B-shaped Q4_K_M model, 91 keystrokes
    python -m benchmarks.latency --quick    # small real-vocab model, 32 keystrokes
    python -m benchmarks.latency --reanalyze benchmarks/results/latency.json  # no rerun
    python -m benchmarks.latency --render benchmarks/results/latency.json     # .md only
    python -m benchmarks.latency --quick --baseline 58c125e  # beside the in-process engine

On a CPU the replay is dominated by prompt evaluation (a 500-token prompt is ~40-150 s on two
busy cores), so the defaults keep prompts at 512 tokens (prefix 192, suffix 48, the rest
repository context): the same proportions as the product's 3072/1024/256, a third the size.
The cores are shared: compare phases by prompt tokens evaluated as well as by milliseconds
(the report shows the prompt tokens/s each phase saw).

Build the 3B-shaped model first with `python -m benchmarks.make_model`; `--quick` writes its own
small model. `make llama-server` builds the optional llama-server from the llama.cpp that
llama-cpp-python vendors (the same kernels) into the user cache; `--llama-server auto` finds it.
"""
