"""The `sc2.status` payload (pushed as `sc2/status`): what editors show in a status bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sc2_lsp import __version__

if TYPE_CHECKING:
    from sc2_lsp.server import Sc2Server


def model_state(server: Sc2Server) -> str:
    """ "not loaded", "loading", "ready", "restarting" (after an engine crash), "unloaded"
    (freed while idle) or "failed"."""
    if server.resolving:
        return "loading"
    if server.model_error is not None:  # also while the previous model is still loaded
        return "failed"
    state = server.engine.health.state
    return {"idle": "not loaded", "closed": "not loaded"}.get(state, state)


def payload(server: Sc2Server, index_details: bool = True) -> dict[str, Any]:
    """Model state, engine health, activity, counters, last latency, index, refusals."""
    info = server.engine.info
    stats = server.completer.stats
    health = server.engine.health
    fallback = health.fallback
    return {
        "version": __version__,
        "model": {
            "state": model_state(server),
            "prewarmed": server.idle.prewarmed,
            "error": server.model_error,
            "path": str(info.path) if info else None,
            "template": info.template.name if info else None,
            "nGpuLayers": info.n_gpu_layers if info else None,
        },
        "engine": {
            "kind": server.settings.engine.kind,
            "url": server.settings.engine.url,
            "pid": health.pid,
            "restarts": health.restarts,
            "lastCause": health.last_cause,
            "lastOutput": list(health.last_output),
            "fallback": {"safety": fallback.safety.describe(), "reason": fallback.reason}
            if fallback
            else None,
        },
        "generating": server.completer.busy,
        "requests": stats.requests,
        "generations": stats.generations,
        "cancelled": stats.cancelled,
        "cacheHits": stats.cache_hits,
        "prefetchHits": stats.prefetch_hits,
        "prefetches": server.completer.speculator.prefetches,
        "alternatives": server.completer.speculator.alternatives,
        "promptTokens": stats.prompt_tokens,
        "reusedTokens": stats.reused_tokens,
        "lastLatencyMs": round(stats.last_latency_ms, 1),
        "index": server.repository.status(index_details),
        "refusedDocuments": dict(server.refused),
    }
