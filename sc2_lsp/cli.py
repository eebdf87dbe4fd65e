"""Command line: the server (stdio or TCP), one-shot `complete` and `prompt`, `model`, `doctor`,
`stats`, `eval`.

Only this module prints to stdout. In stdio mode stdout is the protocol channel, so before the
server starts it is moved to a private file descriptor and fd 1 is pointed at stderr: a stray
print from any library (llama.cpp included) lands in the log instead of corrupting the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from sc2_lsp import cli_args, models
from sc2_lsp.acceptance import StatsFile, report
from sc2_lsp.completer import Completer
from sc2_lsp.config import Settings, load_options, resolve
from sc2_lsp.context.retrieval.recent import RecentEdits
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.engine import EngineError
from sc2_lsp.engine.backends import Hooks, ManagedEngine, make_engine
from sc2_lsp.eval.tasks import EvalError
from sc2_lsp.languages import language_for
from sc2_lsp.prompting import Prepared, Request, prepare
from sc2_lsp.repository import RepositoryContext

log = logging.getLogger("sc2_lsp")


def main(argv: list[str] | None = None) -> int:
    args = cli_args.parser().parse_args(argv)
    _setup_logging(args.verbose, args.log_file)
    try:
        result: int = COMMANDS[args.command](args)
        return result
    except (models.ModelError, EngineError, UsageError, EvalError) as error:
        print(f"sc2-lsp: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


class UsageError(Exception):
    pass


def _setup_logging(verbose: int, log_file: Path | None) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _settings_layer(args: argparse.Namespace) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if getattr(args, "settings", None):
        try:
            layer = json.loads(args.settings)
        except json.JSONDecodeError as error:
            raise UsageError(f"--settings is not valid JSON: {error}") from error
        if not isinstance(layer, dict):
            raise UsageError("--settings must be a JSON object")
    if getattr(args, "model", None):
        layer.setdefault("model", {})["path"] = args.model
    if getattr(args, "max_prompt_tokens", None):
        layer.setdefault("prompt", {})["maxPromptTokens"] = args.max_prompt_tokens
    return layer


def _settings(args: argparse.Namespace) -> Settings:
    settings, errors = resolve(_settings_layer(args))
    for error in errors:
        print(f"sc2-lsp: setting ignored: {error}", file=sys.stderr)
    return settings


# -- server -------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    from sc2_lsp.server import build_server

    server = build_server(_settings_layer(args))
    try:
        if args.tcp:
            server.start_tcp(args.host, args.port)
        else:
            protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
            sys.stdout = sys.stderr
            server.start_io(stdin=sys.stdin.buffer, stdout=protocol_out)
    finally:
        server.repository.close()
        server.engine.close()
    return server.exit_code


# -- one-shot commands ------------------------------------------------------------------------


def _request(file: Path, line: int | None, col: int | None, workspace: Path | None) -> Request:
    path = file.resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {file}: {error}") from error
    if line is None or col is None:
        raise UsageError("--line and --col are required")
    if line < 0 or col < 0:
        raise UsageError("--line and --col are 0-based and cannot be negative")
    root = (workspace or path.parent).resolve()
    snapshot = Snapshot(path.as_uri(), None, language_for(None, str(path)), text)
    return Request(snapshot, cursor_at(text, line, col, "utf-32"), root, "invoked")


def _repository(args: argparse.Namespace, settings: Settings) -> RepositoryContext | None:
    """An index of --workspace, fully built (one-shot commands pay indexing up front)."""
    if args.workspace is None:
        return None
    if not args.workspace.is_dir():
        raise UsageError(f"--workspace {args.workspace} is not a folder")
    repository = RepositoryContext(hold=False)
    repository.configure([args.workspace], settings.repository)
    if repository.index is not None:
        repository.index.wait_ready()
    return repository


def run_prompt(args: argparse.Namespace) -> int:
    from sc2_lsp.engine.vocab import Tokenizer

    settings = _settings(args)
    if args.batch is None and args.file is None:
        raise UsageError("give a FILE, or --batch POSITIONS.jsonl")
    single = None if args.batch else _request(args.file, args.line, args.col, args.workspace)
    tokenizer = Tokenizer.load(models.resolve(settings.model.path))
    template = tokenizer.template(settings.model.template)
    repository = _repository(args, settings)
    counter = lru_cache(maxsize=65536)(tokenizer.count)

    def prompt_at(request: Request) -> Prepared | None:
        provider = repository.provide if repository else None
        path = request.snapshot.path
        if repository is not None and path is not None:
            repository.recent = RecentEdits()
            repository.opened(path, request.snapshot.text, request.snapshot.language_id)
        try:
            return prepare(
                request, settings, tokenizer, template, settings.model.n_ctx, counter, provider
            )
        finally:
            if repository is not None and path is not None:
                repository.closed(path)

    try:
        if single is None:
            return _prompt_batch(args, prompt_at)
        prepared = prompt_at(single)
    finally:
        if repository is not None:
            repository.close()
    if prepared is None:
        print("sc2-lsp: no completion at this position (mode: skip)", file=sys.stderr)
        return 1
    sys.stdout.write(prepared.prompt.render())
    sys.stdout.flush()
    if args.explain:
        healed = prepared.params.healed
        print(
            f"\nhealed: {healed!r} backed off the prompt; the model must spell it first"
            if healed
            else "\nhealed: nothing",
            file=sys.stderr,
        )
    if args.explain and repository is not None:
        print("\nsource      tokens  score  file (symbol)", file=sys.stderr)
        for snippet in repository.last_snippets:
            symbol = f" ({snippet.symbol})" if snippet.symbol else ""
            print(
                f"{snippet.source:<10} {snippet.tokens:7d} {snippet.score:6.2f}  {snippet.path}{symbol}",
                file=sys.stderr,
            )
    print(
        f"\n[{len(prepared.prompt)} tokens ({prepared.prompt.tokens_of('context', 'repo')} context), "
        f"template {template.name}, mode {prepared.post.mode}]",
        file=sys.stderr,
    )
    return 0


def _prompt_batch(args: argparse.Namespace, prompt_at: Callable[[Request], Prepared | None]) -> int:
    workspace = args.workspace or Path.cwd()
    try:
        lines = args.batch.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UsageError(f"cannot read {args.batch}: {error}") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            position = json.loads(line)
            request = _request(
                workspace / position["file"], int(position["line"]), int(position["col"]), workspace
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, UsageError) as error:
            print(json.dumps({"error": f"line {number}: {error}"}), flush=True)
            continue
        started = time.perf_counter()
        prepared = prompt_at(request)
        elapsed = (time.perf_counter() - started) * 1000
        payload = {
            "prompt": prepared.prompt.render() if prepared else None,
            "tokens": len(prepared.prompt) if prepared else 0,
            "ms": round(elapsed, 3),
        }
        print(json.dumps(payload), flush=True)
    return 0


def run_complete(args: argparse.Namespace) -> int:
    settings = _settings(args)
    request = _request(args.file, args.line, args.col, args.workspace)
    repository = _repository(args, settings)
    hooks = Hooks(on_event=lambda event: print(event.message, file=sys.stderr))
    engine = make_engine(settings.engine, hooks)
    try:
        info = engine.load(load_options(settings.model, models.resolve(settings.model.path)))
        for warning in info.result().warnings:
            print(f"sc2-lsp: {warning}", file=sys.stderr)
        provider = repository.provide if repository else None
        if repository is not None and request.snapshot.path is not None:
            repository.opened(
                request.snapshot.path, request.snapshot.text, request.snapshot.language_id
            )
        completer = Completer(engine, provider)
        suggestion = asyncio.run(completer.complete(request, settings))
        if suggestion is None and engine.health.restarts and _wait_ready(engine):
            suggestion = asyncio.run(completer.complete(request, settings))  # once, after a crash
    finally:
        engine.close()
        if repository is not None:
            repository.close()
    if args.json:
        payload: dict[str, Any] = {"text": suggestion.text if suggestion else ""}
        if suggestion and suggestion.generation:
            generation = suggestion.generation
            payload |= {
                "mode": suggestion.mode,
                "promptTokens": generation.n_prompt,
                "generatedTokens": len(generation.tokens),
                "stopReason": generation.stop_reason,
                "promptMs": round(generation.prompt_seconds * 1000, 1),
                "generateMs": round(generation.generate_seconds * 1000, 1),
                "loadMs": round(info.result().load_seconds * 1000, 1),
            }
        print(json.dumps(payload))
    elif suggestion:
        print(suggestion.text)
    return 0


def _wait_ready(engine: ManagedEngine, timeout: float = 120.0) -> bool:
    """After a crash: wait for the restarted engine (True) or for the supervisor to give up."""
    deadline = time.monotonic() + timeout
    while engine.health.state in ("restarting", "loading") and time.monotonic() < deadline:
        time.sleep(0.05)
    return engine.ready


def run_eval(args: argparse.Namespace) -> int:
    from sc2_lsp.eval import report
    from sc2_lsp.eval.run import Plan, arms_for, evaluate

    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    arms, errors = arms_for(_settings_layer(args), args.compare)
    for error in errors:
        print(f"sc2-lsp: setting ignored: {error}", file=sys.stderr)
    plan = Plan(args.suite, arms, args.cursor, args.limit, args.seed, args.workspace, args.timeout)
    found = report.as_json(evaluate(plan, lambda line: print(f"sc2-lsp: {line}", file=sys.stderr)))
    table = report.markdown(found)
    for path, content in ((args.json_out, json.dumps(found, indent=1)), (args.markdown, table)):
        if path is not None:
            try:
                path.write_text(content + "\n" * (not content.endswith("\n")), encoding="utf-8")
            except OSError as error:
                raise UsageError(f"cannot write {path}: {error}") from error
    sys.stdout.write(table)
    return 0


# -- models -------------------------------------------------------------------------------


def run_model_pull(args: argparse.Namespace) -> int:
    path = models.pull(args.spec, vocab=args.vocab_only)
    print(path)
    return 0


def run_model_list(args: argparse.Namespace) -> int:
    found = models.list_models()
    if not found:
        print(f"no models in {models.model_dir()}; run `sc2-lsp model pull`", file=sys.stderr)
        return 0
    for model in found:
        print(f"{model.size_bytes / 1e9:7.2f} GB  {model.path}")
    return 0


def run_model_rm(args: argparse.Namespace) -> int:
    for path in models.remove(args.spec):
        print(f"removed {path}")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from sc2_lsp import doctor

    settings = _settings(args)
    if args.forget_fallback:
        print(doctor.forget_fallback(settings.model))
        return 0
    status = 0
    report = (
        doctor.report(settings.model, probe=not args.no_probe)
        if settings.engine.kind == "local"
        else doctor.remote_report(settings, probe=not args.no_probe)
    )
    for line in report:
        if isinstance(line, int):
            status = line
        else:
            print(line, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())


def run_stats(args: argparse.Namespace) -> int:
    store = StatsFile()
    if args.reset:
        store.reset()
        print(f"sc2-lsp: statistics deleted ({store.path})")
        return 0
    tallies = store.read()
    if args.json:
        entries = [tally.to_json(*key) for key, tally in sorted(tallies.items())]
        print(json.dumps({"file": str(store.path), "entries": entries}, indent=1))
    elif not tallies:
        print(f"no statistics yet ({store.path})")
    else:
        print("\n".join(report(tallies)))
        print(f"\nlatency: time until a suggestion appeared; kept in {store.path}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": serve,
    "complete": run_complete,
    "prompt": run_prompt,
    "eval": run_eval,
    "model pull": run_model_pull,
    "model list": run_model_list,
    "model rm": run_model_rm,
    "doctor": run_doctor,
    "stats": run_stats,
}
