# terrlib: `make help` lists the targets.
PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DEMO := data/raw/demo
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.DEFAULT_GOAL := help
.PHONY: help setup demo report validate test lint format strip benchmark clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## create .venv from the lock file (bootstraps uv)

$(DEMO)/accounts.csv: | $(VENV)/.synced
	$(BIN)/terrlib demo --out $(DEMO)

demo: $(DEMO)/accounts.csv ## generate the demo company into data/raw/demo (once)

validate: demo ## check the demo data against the data contract
	$(BIN)/terrlib validate --data $(DEMO)

report: demo ## build reports/<quarter>/ for the latest complete quarter of the demo data
	$(BIN)/terrlib report --data $(DEMO)

test: setup ## run the whole test suite (lint, unit, notebooks, end to end)
	$(BIN)/ruff check terrlib tests benchmarks
	$(BIN)/pytest -q

lint: setup ## ruff lint
	$(BIN)/ruff check terrlib tests benchmarks

format: setup ## ruff format and fix
	$(BIN)/ruff format terrlib tests benchmarks
	$(BIN)/ruff check --fix terrlib tests benchmarks

strip: setup ## strip notebook outputs before committing
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

benchmark: demo ## time the full report on the demo company (wall time, peak memory)
	$(BIN)/python benchmarks/report_benchmark.py

clean: ## remove the environment, generated data and reports
	rm -rf $(VENV) $(TOOLS) data/processed/* reports/*
