"""The projects measured (code nobody here wrote, found on this machine) and copying them."""

from __future__ import annotations

import importlib.util
import json
import platform
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Project:
    name: str
    language: str  # tree-sitter language of its sources
    origin: Path
    suffixes: tuple[str, ...]
    subdirs: tuple[str, ...] = ()  # copy only these (relative to origin); all when empty
    version: str = ""
    exclude: tuple[str, ...] = ()  # relative directories left out
    internal: tuple[str, ...] = ()  # absolute module names that belong to the project
    # Folder the sources go under inside the workspace: a Python package keeps its own
    # directory so that its absolute imports (`from pkg.sub import x`) resolve.
    prefix: str = ""


def _package_dir(module: str) -> tuple[Path | None, str]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None, ""
    try:
        from importlib.metadata import version

        found = version(module)
    except Exception:
        found = ""
    return Path(next(iter(spec.submodule_search_locations))), found


def _npm_root() -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        out = subprocess.run(
            [npm, "root", "-g"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    root = Path(out.stdout.strip())
    return root if root.is_dir() else None


def _package_json_version(directory: Path) -> str:
    try:
        return str(json.loads((directory / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return ""


def available_projects() -> tuple[list[Project], list[str]]:
    """Projects present on this machine, and notes on those that are not."""
    found: list[Project] = []
    notes: list[str] = []
    for module, exclude in (
        ("huggingface_hub", ("inference/_generated/",)),
        ("hypothesis", ()),
    ):
        directory, version = _package_dir(module)
        if directory is None:
            notes.append(f"{module}: not installed")
            continue
        # Generated code is left out: the index refuses it by policy, so no one's recall
        # should hinge on it.
        found.append(
            Project(module, "python", directory, (".py",), (), version, exclude, (module,), module)
        )
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if (stdlib / "asyncio").is_dir():
        found.append(
            Project(
                "asyncio",
                "python",
                stdlib / "asyncio",
                (".py",),
                version=platform.python_version(),
                internal=("asyncio",),
                prefix="asyncio",
            )
        )
    npm_root = _npm_root()
    npm = npm_root / "npm" if npm_root else None
    if npm is None or not (npm / "lib").is_dir():
        notes.append("npm: no global npm (`npm root -g`)")
    else:
        version = _package_json_version(npm)
        found.append(Project("npm", "javascript", npm, (".js",), ("lib",), version))
    return found, notes


def copy_sources(project: Project, target: Path) -> list[str]:
    """Copy the project's source files into `target`; their relative paths, sorted."""
    if target.exists():
        shutil.rmtree(target)
    files: list[str] = []
    roots = [project.origin / sub for sub in project.subdirs] or [project.origin]
    for base in roots:
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.suffix not in project.suffixes:
                continue
            if "__pycache__" in path.parts or "node_modules" in path.relative_to(base).parts:
                continue
            relative = path.relative_to(project.origin)
            if any(relative.as_posix().startswith(prefix) for prefix in project.exclude):
                continue
            if project.prefix:
                relative = Path(project.prefix) / relative
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            files.append(relative.as_posix())
    return sorted(files)
