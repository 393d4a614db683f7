# adk-agent: `make run` (agent -> local Rotel collector) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INTERVAL ?= 5s
PROTOCOL ?= grpc
GRPC_PORT ?= 4317
HTTP_PORT ?= 4318
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

# A local collector that prints what it receives, and the agent pushing to it. Ctrl-C stops
# the agent first (its final export still reaches the collector), then the collector: the
# collector runs in a process group of its own, so the terminal's SIGINT reaches only the
# agent and this shell, which outlives it (`trap : INT`) to stop the collector on EXIT.
run: venv
	@rotel=$$($(BIN)/python -c 'import importlib.util, os; \
	  print(os.path.join(importlib.util.find_spec("rotel").submodule_search_locations[0], "rotel-agent"))'); \
	  tmp=$$(mktemp -d); \
	  $(BIN)/python -c 'import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])' \
	    $$rotel start --otlp-grpc-endpoint 127.0.0.1:$(GRPC_PORT) \
	    --otlp-http-endpoint 127.0.0.1:$(HTTP_PORT) \
	    --exporter blackhole --debug-log metrics --debug-log-verbosity detailed \
	    --pid-file $$tmp/rotel.pid --log-file $$tmp/rotel.log & rotel_pid=$$!; \
	  stop() { kill $$rotel_pid 2>/dev/null && wait $$rotel_pid; rm -rf $$tmp; }; \
	  trap stop EXIT; trap 'exit 1' TERM HUP; trap : INT; \
	  if [ "$(PROTOCOL)" = grpc ]; then ep=http://127.0.0.1:$(GRPC_PORT); \
	  else ep=http://127.0.0.1:$(HTTP_PORT); fi; \
	  $(BIN)/adk-agent run --endpoint $$ep --protocol $(PROTOCOL) --interval $(INTERVAL)

# The benchmark (not part of `make test`): adk-agent vs the Python peer vs the floor on the host
# as it is and node-shaped, with a verdict per target; the per-source and scaling costs;
# instructions per cycle (with valgrind); bytes per request. Figures land in bench/results/.
bench: venv
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS),bench]'
	$(BIN)/python bench/run.py --seconds $(or $(SECONDS),60) --scenario both --scaling
	$(BIN)/python bench/sources.py
	$(BIN)/python bench/sources.py --containers
	$(BIN)/python bench/instructions.py --if-available
	$(BIN)/python bench/instructions.py --if-available --scenario node
	$(BIN)/python bench/fleet.py

soak: venv
	$(BIN)/python bench/soak.py --duration $(or $(DURATION),600) --interval 1s

# Processes starting and exiting every cycle: memory, series and the reported set stay right.
churn: venv
	$(BIN)/python bench/churn.py --duration $(or $(DURATION),300) --interval 1s

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
