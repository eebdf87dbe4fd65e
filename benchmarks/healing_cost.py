"""What token healing costs in time, measured where `sc2-lsp eval`'s sequential arms cannot.

1. The mask alone: `HealingMask` on a logits vector of the real StarCoder2 vocabulary, per
   masked token, for typical healed texts.
2. Whole generations, healing on and off interleaved task by task on one SmolLM2-135M engine
   in this process (so machine load falls on both alike): prompt and generation speed, over
   every 20th HumanEval single-line task (from a cold KV cache each time).

Writes `benchmarks/results/healing_cost.json`. Run: `python -m benchmarks.healing_cost`.
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np

from benchmarks.common import ROOT, cpu_name, smollm2_path
from sc2_lsp.engine import CancelToken, GenerationParams, LoadOptions
from sc2_lsp.engine.llama import LlamaModel
from sc2_lsp.engine.vocab import Tokenizer
from sc2_lsp.eval import humaneval
from sc2_lsp.healing import HealingMask, TokenTrie, heal
from sc2_lsp.prompt import Prompt, PromptPart
from tests.gguf_factory import STARCODER2_VOCAB

HEALED_TEXTS = ("\n    ", " ", "gre", "(", " ==")
CALLS = 2000


def mask_cost() -> dict[str, dict[str, float]]:
    vocabulary = Tokenizer.load(STARCODER2_VOCAB)
    trie = TokenTrie(vocabulary.pieces())
    scores = np.random.default_rng(0).random(vocabulary.n_vocab, dtype=np.float32)
    found = {}
    for text in HEALED_TEXTS:
        mask = HealingMask(trie, text)
        mask(None, scores)  # the trie's caches, as after the first keystroke
        started = time.perf_counter()
        for _ in range(CALLS):
            mask(None, scores)
        microseconds = (time.perf_counter() - started) / CALLS * 1e6
        found[text] = {"agreeing_tokens": len(trie.agreeing(mask.remaining)), "us": microseconds}
    return found


def generation_cost() -> dict[str, dict[str, float]]:
    model = LlamaModel(LoadOptions(smollm2_path(), n_ctx=2048, n_threads=2))
    tokenizer = model.tokenizer
    tasks = humaneval.single_line_tasks(humaneval.load_problems(), "line", 0)[::20]
    runs: dict[bool, list[tuple[float, float, int, int]]] = {True: [], False: []}
    try:
        for number, task in enumerate(tasks):
            text = task.text[: task.offset]
            prompt = Prompt((PromptPart("prefix", text, tuple(tokenizer.tokenize(text))),))
            for healing in (True, False) if number % 2 else (False, True):
                healed_prompt, healed = heal(prompt, tokenizer.piece, healing)
                params = GenerationParams(24, stop_ids=model.info.template.stop_ids, healed=healed)
                # a cold cache: the whole prompt evaluated each time (reset: unannotated in llama_cpp)
                model.llama.reset()  # type: ignore[no-untyped-call]
                done = model.generate(healed_prompt.tokens, params, CancelToken())
                runs[healing].append(
                    (done.prompt_seconds, done.generate_seconds, done.n_evaluated, len(done.tokens))
                )
    finally:
        model.close()
    return {
        "on" if healing else "off": {
            "tasks": len(found),
            "prompt_tokens_per_s": sum(r[2] for r in found) / sum(r[0] for r in found),
            "generated_tokens_per_s": sum(r[3] for r in found) / sum(r[1] for r in found),
            "prompt_ms_median": statistics.median(r[0] for r in found) * 1000,
            "generated_tokens": sum(r[3] for r in found),
        }
        for healing, found in runs.items()
    }


def main() -> None:
    results = {"cpu": cpu_name(), "mask": mask_cost(), "generation": generation_cost()}
    path = ROOT / "benchmarks" / "results" / "healing_cost.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
