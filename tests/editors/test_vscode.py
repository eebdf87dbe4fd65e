"""The VS Code extension (editors/vscode): its settings contract with the server, its unit
tests, and the end-to-end run in code-server + headless Chromium (editors/vscode/test/e2e.sh).

The node-based tests need `editors/vscode/test/setup.sh` (Debian chromium, npm packages,
code-server); without that tooling they are skipped and say so.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from sc2_lsp.config import Settings, camel, to_json

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "editors" / "vscode"
CODE_SERVER = EXT / ".work" / "code-server" / "node_modules" / ".bin" / "code-server"
# Settings the extension keeps for itself; every other sc2.* key goes to the server.
EXTENSION_ONLY = {"server.path", "server.args", "completion.suggestWidget", "trace.server"}


def contributed() -> dict[str, dict[str, Any]]:
    manifest = json.loads((EXT / "package.json").read_text())
    properties: dict[str, dict[str, Any]] = {}
    for section in manifest["contributes"]["configuration"]:
        properties.update(section["properties"])
    return {key.removeprefix("sc2."): spec for key, spec in properties.items()}


def server_field(dotted: str) -> tuple[object, dataclasses.Field[Any], Any]:
    """(default, field, type hint) of a camelCase dotted server setting."""
    node: Any = Settings()
    *parents, last = dotted.split(".")
    for part in parents:
        node = getattr(
            node, next(f.name for f in dataclasses.fields(node) if camel(f.name) == part)
        )
    field = next(f for f in dataclasses.fields(node) if camel(f.name) == last)
    return getattr(node, field.name), field, typing.get_type_hints(type(node))[field.name]


def test_contributed_settings_match_the_server() -> None:
    """Defaults, ranges and choices in package.json are the server's (config.py)."""
    properties = contributed()
    assert properties.keys() >= EXTENSION_ONLY
    for key, spec in properties.items():
        if key in EXTENSION_ONLY:
            continue
        default, field, hint = server_field(key)
        expected = to_json(default)
        if key == "model.path":
            assert default is None and spec["default"] == "", "empty string stands for null"
        else:
            assert spec["default"] == expected, key
        low_high = field.metadata.get("range")
        if low_high:
            assert (spec.get("minimum"), spec.get("maximum")) == low_high, key
        if typing.get_origin(hint) is typing.Literal:
            assert spec.get("enum") == list(typing.get_args(hint)), key


def test_extension_sends_exactly_the_contributed_server_keys() -> None:
    """src/settings.ts SERVER_KEYS lists the same keys as package.json contributes."""
    source = (EXT / "src" / "settings.ts").read_text()
    block = source.split("export const SERVER_KEYS = [", 1)[1].split("]", 1)[0]
    keys = {line.strip().strip(",").strip("'") for line in block.splitlines() if line.strip()}
    assert keys == contributed().keys() - EXTENSION_ONLY


def _require(*things: tuple[bool, str]) -> None:
    missing = [name for ok, name in things if not ok]
    if missing:
        pytest.skip(
            f"VS Code e2e tooling absent ({', '.join(missing)}): run editors/vscode/test/setup.sh"
        )


def test_extension_unit_tests() -> None:
    _require(
        (shutil.which("node") is not None, "node"),
        ((EXT / "node_modules" / "typescript").is_dir(), "editors/vscode/node_modules"),
    )
    run = subprocess.run(
        ["npm", "run", "--silent", "test:unit"],
        cwd=EXT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "# fail 0" in output, output[-4000:]


def test_vscode_e2e() -> None:
    """Packaged .vsix in code-server, real server, ghost text, Tab, settings sync, commands."""
    _require(
        (CODE_SERVER.exists(), "code-server"),
        (shutil.which("chromium") is not None, "chromium"),
        ((EXT / "node_modules" / "playwright-core").is_dir(), "editors/vscode/node_modules"),
    )
    run = subprocess.run(
        ["bash", str(EXT / "test" / "e2e.sh")],
        env={**os.environ, "SC2_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "ALL PASS" in output
    assert "FAIL" not in output, output[-6000:]
