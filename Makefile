# Thrifty: `make demo` runs the operator on a local sandbox; `make test` runs every check and test.
# Both install what they need on first use (a virtualenv, Debian's prometheus, the Go builds).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install lint typecheck layers unit integration test demo demo-down crds sandbox-up sandbox-down clean

help:
	@echo "make demo       - sandbox + CRDs + examples + operator, then kubectl get of the three kinds"
	@echo "make test       - ruff, mypy --strict, import-linter, unit and integration tests"
	@echo "make demo-down  - stop the demo's operator and sandbox"
	@echo "make crds       - regenerate crds/ (and the chart's copy) from the API models"

$(STAMP): pyproject.toml
	@echo "==> creating the virtualenv in $(VENV) and installing thrifty with its test tools and sim extra"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --progress-bar off -e '.[test,sim]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	@echo "==> ruff"
	@$(BIN)/ruff check operator tests examples
	@$(BIN)/ruff format --check operator tests examples

typecheck: $(STAMP)
	@echo "==> mypy --strict operator/"
	@$(BIN)/mypy

layers: $(STAMP)
	@echo "==> import-linter"
	@$(BIN)/lint-imports

unit: $(STAMP)
	@echo "==> unit tests"
	@$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	@echo "==> sandbox components (built from Go modules on first run, about 15 minutes; cached afterwards)"
	@$(BIN)/thrifty sandbox build --karpenter
	@echo "==> integration tests (real kube-apiserver, controllers, KWOK and Prometheus)"
	@$(BIN)/pytest -q tests/integration

test: lint typecheck layers unit integration

crds: $(STAMP)
	@$(BIN)/thrifty crds --out crds
	@# The chart carries the same files; a test fails when the two differ.
	@rm -rf charts/thrifty/crds && cp -R crds charts/thrifty/crds

demo: $(STAMP)
	@$(BIN)/python examples/demo.py

demo-down: $(STAMP)
	@$(BIN)/python examples/demo.py --down

sandbox-up: $(STAMP)
	@$(BIN)/thrifty sandbox up

sandbox-down: $(STAMP)
	@$(BIN)/thrifty sandbox down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
