"""Settings: precedence of layers, camelCase keys, and partial validity."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sc2_lsp.config import Settings, camel, resolve, snake, to_json


@pytest.mark.parametrize(
    ("layers", "check", "n_errors"),
    [
        pytest.param([], lambda s: s == Settings(), 0, id="defaults"),
        pytest.param(
            [{"model": {"nCtx": 2048}}], lambda s: s.model.n_ctx == 2048, 0, id="camel-case"
        ),
        pytest.param(
            [{"model": {"path": "a.gguf"}}, {"model": {"path": "b.gguf"}}],
            lambda s: s.model.path == "b.gguf",
            0,
            id="later-layer-wins",
        ),
        pytest.param(
            [{"completion": {"maxTokens": 64}}, {"completion": {"temperature": 0.5}}],
            lambda s: s.completion.max_tokens == 64 and s.completion.temperature == 0.5,
            0,
            id="layers-merge-per-field",
        ),
        pytest.param(
            [{"completion": {"maxTokens": "many", "debounceMs": 10}}],
            lambda s: s.completion.max_tokens == 128 and s.completion.debounce_ms == 10,
            1,
            id="bad-type-keeps-default-rest-applies",
        ),
        pytest.param(
            [{"model": {"nCtx": 10}}], lambda s: s.model.n_ctx == 4096, 1, id="out-of-range"
        ),
        pytest.param(
            [{"completion": {"multiline": "sometimes"}}],
            lambda s: s.completion.multiline == "auto",
            1,
            id="bad-literal",
        ),
        pytest.param(
            [{"completion": {"enable": 1}}], lambda s: s.completion.enable, 1, id="int-is-not-bool"
        ),
        pytest.param([{"modle": {}}], lambda s: s == Settings(), 1, id="unknown-key"),
        pytest.param(["nonsense"], lambda s: s == Settings(), 1, id="not-an-object"),
        pytest.param([{"model": 3}], lambda s: s == Settings(), 1, id="section-not-an-object"),
        pytest.param(
            [{"model": {"path": None}}], lambda s: s.model.path is None, 0, id="null-optional"
        ),
        pytest.param(
            [{"completion": {"disabledLanguages": ["markdown"]}}],
            lambda s: s.completion.disabled_languages == ("markdown",),
            0,
            id="list",
        ),
        pytest.param(
            [{"completion": {"temperature": 1}}],
            lambda s: s.completion.temperature == 1.0,
            0,
            id="int-for-float",
        ),
        pytest.param(
            [{"model": {"nCtx": 2048.0}}],
            lambda s: s.model.n_ctx == 2048,
            0,
            id="whole-float-for-int",
        ),
        pytest.param([None, {}], lambda s: s == Settings(), 0, id="empty-layers"),
    ],
)
def test_resolve(layers: list[object], check: Callable[[Settings], bool], n_errors: int) -> None:
    settings, errors = resolve(*layers)
    assert check(settings), settings
    assert len(errors) == n_errors, errors


def test_error_messages_name_the_key() -> None:
    _settings, errors = resolve({"completion": {"maxTokens": -5}})
    assert errors == ["completion.maxTokens: -5 is out of range [1, 4096]"]


def test_names() -> None:
    assert camel("n_gpu_layers") == "nGpuLayers"
    assert snake("nGpuLayers") == "n_gpu_layers"
    assert to_json(Settings())["model"]["nCtx"] == 4096


def test_local_only_features_follow_the_engine_kind() -> None:
    """Healing and the engine's alternatives need the local engine; prefetch needs asking."""
    local, _ = resolve({"completion": {"suggestions": 3}})
    remote, _ = resolve({"completion": {"suggestions": 3}, "engine": {"kind": "openai"}})
    off, _ = resolve({"prompt": {"tokenHealing": False}, "completion": {"suggestions": 1}})
    assert local.healing and local.engine_alternatives == 2 and local.prefetch
    assert not remote.healing and remote.engine_alternatives == 0 and not remote.prefetch
    assert not off.healing and off.engine_alternatives == 0
    asked, _ = resolve({"engine": {"kind": "openai", "prefetch": True}})
    assert asked.prefetch
