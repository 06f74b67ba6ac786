# CryptoViz developer commands. `make run` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo web binary test lint typecheck unit bench bench-ws bench-backends test-servers clean

$(STAMP): pyproject.toml
	scripts/bootstrap-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The dashboard (web/), built into the package's static folder when it is missing or
# older than its sources. Needs Node.js and npm (scripts/bootstrap-node.sh installs them).
DASHBOARD := cryptoviz/static/dashboard/index.html
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) \
	$(wildcard web/index.html web/package.json web/package-lock.json web/vite.config.ts web/tsconfig*.json)

$(DASHBOARD): $(WEB_SOURCES)
	scripts/bootstrap-node.sh
	$(PYTHON) scripts/web_assets.py --force

web: $(DASHBOARD)  ## build the dashboard

run: $(STAMP) $(DASHBOARD)  ## serve on 127.0.0.1:8080 with the embedded defaults
	$(BIN)/cryptoviz serve

demo: $(STAMP) $(DASHBOARD)
	$(BIN)/cryptoviz serve --demo

# The single executable dist/cryptoviz (PyInstaller, packaging/cryptoviz.spec): plugins, default
# config and dashboard inside. Rebuilt only when something it holds is newer than it.
binary: $(STAMP) $(DASHBOARD)
	$(BIN)/python scripts/build_binary.py

lint: $(STAMP)
	$(BIN)/ruff check cryptoviz plugins tests
	$(BIN)/ruff format --check cryptoviz plugins tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	@# The dashboard, for runs that serve it; without Node.js its own tests say why they skip.
	-scripts/bootstrap-node.sh && $(PYTHON) scripts/web_assets.py --if-stale
	$(BIN)/pytest -q

test: lint typecheck unit  ## the whole suite: ruff, mypy --strict, pytest

# PostgreSQL, Redis and Kafka for the tests (Debian packages, Kafka jars from Maven Central);
# pytest also runs this on its own for a server it lacks. Idempotent and cached.
test-servers:
	scripts/test-servers/install.sh

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks.bench_replay
	$(BIN)/python -m tests.benchmarks.bench_indicators
	$(MAKE) bench-ws

# The same replay embedded and on Kafka -> PostgreSQL with Redis dedup (servers started here).
bench-backends: $(STAMP)
	$(BIN)/python -m tests.benchmarks.bench_backends

# WebSocket fan-out against the naive peers. Needs go and node; the load client and the
# Node peer's packages are fetched from the Go module proxy and npm against the lock files.
# Pass options with WS_BENCH_ARGS, e.g. WS_BENCH_ARGS=--quick.
WS_BENCH := tests/benchmarks/ws
bench-ws: $(STAMP) $(WS_BENCH)/build/wsload $(WS_BENCH)/node/node_modules/.package-lock.json
	$(BIN)/python -m tests.benchmarks.ws.bench_ws $(WS_BENCH_ARGS)

$(WS_BENCH)/build/wsload: $(WS_BENCH)/loadgen/go.mod $(WS_BENCH)/loadgen/go.sum $(wildcard $(WS_BENCH)/loadgen/*.go)
	cd $(WS_BENCH)/loadgen && go build -buildvcs=false -o ../build/wsload .

$(WS_BENCH)/node/node_modules/.package-lock.json: $(WS_BENCH)/node/package-lock.json
	cd $(WS_BENCH)/node && npm ci --no-audit --no-fund

clean:
	rm -rf $(VENV) var build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache $(WS_BENCH)/build $(WS_BENCH)/node/node_modules
	rm -rf cryptoviz/static web/node_modules
