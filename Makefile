# adk-agent: `make run` (agent -> local Rotel collector) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INTERVAL ?= 5s
PROTOCOL ?= grpc
EXTRAS ?= test,deploy

.PHONY: venv test unit lint run bench soak churn clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q

# The fast layer alone: in-process, no subprocess, no network (seconds).
unit: venv
	$(BIN)/python -m pytest -q tests/unit

# A local collector that prints what it receives, and the agent pushing to it.
run: venv
	@rotel=$$($(BIN)/python -c 'import importlib.util, os; \
	  print(os.path.join(importlib.util.find_spec("rotel").submodule_search_locations[0], "rotel-agent"))'); \
	  tmp=$$(mktemp -d); \
	  $$rotel start --otlp-grpc-endpoint 127.0.0.1:4317 --otlp-http-endpoint 127.0.0.1:4318 \
	    --exporter blackhole --debug-log metrics --debug-log-verbosity detailed \
	    --pid-file $$tmp/rotel.pid --log-file $$tmp/rotel.log & rotel_pid=$$!; \
	  trap 'kill $$rotel_pid 2>/dev/null; rm -rf $$tmp' EXIT INT TERM; \
	  if [ "$(PROTOCOL)" = grpc ]; then ep=http://127.0.0.1:4317; else ep=http://127.0.0.1:4318; fi; \
	  $(BIN)/adk-agent run --endpoint $$ep --protocol $(PROTOCOL) --interval $(INTERVAL)

# The benchmark (not part of `make test`): adk-agent vs the Python peer vs the floor, the
# per-source and scaling costs, then the 10-minute soak. Figures land in bench/results/.
bench: venv
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS),bench]'
	$(BIN)/python bench/run.py --seconds $(or $(SECONDS),60) --scaling
	$(BIN)/python bench/sources.py

soak: venv
	$(BIN)/python bench/soak.py --duration $(or $(DURATION),600) --interval 1s

# Processes starting and exiting every cycle: memory, series and the reported set stay right.
churn: venv
	$(BIN)/python bench/churn.py --duration $(or $(DURATION),300) --interval 1s

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
