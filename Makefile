# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench system-deps rules-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system-deps:
	@bash .ci/system-deps

demo: $(STAMP) system-deps
	$(BIN)/python -m ops_toolkit.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) system-deps
	$(BIN)/pytest -q

rules-check: $(STAMP) system-deps
	$(BIN)/ops slo rules --tests --inhibit alerts/inhibit.yaml --check
	promtool check rules alerts/*.rules.yaml
	cd alerts && promtool test rules *.rules.test.yaml
	vmalert -dryRun -rule='alerts/*.rules.yaml' -loggerLevel=ERROR

test: lint typecheck rules-check unit

bench: $(STAMP) system-deps
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
