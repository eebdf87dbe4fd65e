"""Benchmarks of sc2-lsp; each module says what it measures and how to reproduce its result.

Run them as modules from the repository root (`python -m benchmarks.context_recall`), so they
import `sc2_lsp` and the test helpers (`tests.gguf_factory`) without path tricks.
"""
