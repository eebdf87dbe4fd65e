# One set of targets for humans and CI (.ci/run calls `make install` and `make test`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install llama-server test test-remote test-realmodel figures test-unit test-e2e test-model test-editors vscode-setup vscode-package test-vscode vscode-screenshots docs lint fix typecheck check bench clean

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python ## create .venv and install sc2-lsp with its dev tools (compiles llama.cpp once)
	$(BIN)/pip install -e '.[dev]'

llama-server: ## build llama.cpp's llama-server once from the pinned sdist (cached per version, ~8 min)
	$(BIN)/python -m tools.llama_server build

test: llama-server ## run every test tier: unit, e2e (real server over stdio), model (real llama.cpp), realmodel (SmolLM2-135M), remote
	$(BIN)/python -m pytest

figures: ## run the reliability tier and refresh the committed tests/reliability/figures.json
	SC2_UPDATE_FIGURES=1 $(BIN)/python -m pytest tests/reliability

test-unit: ## unit tier only
	$(BIN)/python -m pytest tests/unit -m "not model"

test-e2e: ## end-to-end tier only
	$(BIN)/python -m pytest tests/e2e

test-remote: llama-server ## remote engines against a real llama-server
	$(BIN)/python -m pytest tests/remote

test-editors: ## Neovim plugin tests: headless nvim 0.11.4 and 0.12-dev with the real server
	$(BIN)/python -m pytest tests/editors

VSCODE := editors/vscode

vscode-setup: ## VS Code e2e tooling: Debian chromium, npm deps, code-server (cached in editors/vscode/.work)
	bash $(VSCODE)/test/setup.sh

vscode-package: ## build the VS Code extension (editors/vscode/sc2-lsp-<version>.vsix)
	cd $(VSCODE) && (test -d node_modules || npm ci --no-audit --no-fund) && npm run package

test-vscode: ## VS Code extension: settings contract, unit tests, e2e in code-server + Chromium
	$(BIN)/python -m pytest tests/editors/test_vscode.py

vscode-screenshots: ## rerun the VS Code e2e and refresh the committed screenshots from it
	E2E_SHOTS_OUT=$(CURDIR)/$(VSCODE)/test/screenshots bash $(VSCODE)/test/e2e.sh

test-model: ## model tier only
	$(BIN)/python -m pytest -m model

test-realmodel: ## real-model tier only: SmolLM2-135M end to end through the server
	$(BIN)/python -m pytest -m realmodel

lint: ## ruff lint + format check
	$(BIN)/ruff check sc2_lsp tests benchmarks tools
	$(BIN)/ruff format --check sc2_lsp tests benchmarks tools

fix: ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix sc2_lsp tests benchmarks tools
	$(BIN)/ruff format sc2_lsp tests benchmarks tools

docs: ## regenerate the README's settings table and layout from the code
	$(BIN)/python -m tools.readme

typecheck: ## mypy --strict on sc2_lsp, tests, benchmarks and tools
	$(BIN)/mypy

check: lint typecheck test ## everything CI checks

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
