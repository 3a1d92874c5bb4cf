# fashion-classifier: `make run` to serve, `make test` for everything the tests need and the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CASSANDRA := tools/cassandra/cassandra.sh
HOST ?= 127.0.0.1
PORT ?= 8987
# The keyspace `make cassandra` migrates: DATABASE_URL=$(CASSANDRA_URL) make run serves from it.
CASSANDRA_URL ?= cassandra://127.0.0.1:9042/fashion_classifier

.PHONY: install install-dev run test lint format cassandra cassandra-stop test-cluster bench train fine-tune evaluate clean \
	container-images test-containers test-containers-train docs-screenshots docs-failover system-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Stamps: reinstall only when pyproject.toml changes.
$(VENV)/.serve: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) install -e ".[train,dev]"
	touch $@ $(VENV)/.serve

install: $(VENV)/.serve  ## the app into .venv (no TensorFlow)

install-dev: $(VENV)/.dev  ## the app, training and test tools

run: install  ## serve on http://127.0.0.1:8987 with the embedded SQLite store (or $$DATABASE_URL)
	tools/system-deps.sh --serve
	$(VENV)/bin/fashion-classifier migrate
	$(VENV)/bin/fashion-classifier serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src tests

format: install-dev
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

cassandra: install-dev  ## a local Cassandra 5.0 node on 127.0.0.1:9042, ready and migrated when this returns
	PYTHON=$(abspath $(PY)) $(CASSANDRA) start
	DATABASE_URL=$(CASSANDRA_URL) $(VENV)/bin/fashion-classifier migrate

cassandra-stop:
	$(CASSANDRA) stop

# Debian packages of the suite and of the container tests (installed as root, else named).
system-deps:
	tools/system-deps.sh
	source tools/containers/podman-env.sh && require_podman

# The whole suite against a real Cassandra node that this target starts and stops again.
test: install-dev lint
	tools/system-deps.sh
	cd tests/e2e && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error  # axe-core, pinned
	PYTHON=$(abspath $(PY)) $(CASSANDRA) start
	set +e; $(PY) -m pytest -m "not cluster and not containers" $(PYTEST_ARGS); status=$$?; \
	  [ -n "$$KEEP_CASSANDRA" ] || $(CASSANDRA) stop; exit $$status

# Failover on a 3-node cluster (heavy: about 5 GB of RAM); results go to test-artifacts/failover.md.
# The cluster gets addresses of its own (127.0.0.11-13 unless CASSANDRA_NODE_OFFSET says
# otherwise), so its stop and start never touch the node of `make cassandra` on 127.0.0.1.
test-cluster: export CASSANDRA_NODE_OFFSET ?= 10
test-cluster: install-dev
	tools/system-deps.sh
	$(CASSANDRA) stop
	PYTHON=$(abspath $(PY)) $(CASSANDRA) start 3
	set +e; $(PY) -m pytest -m cluster $(PYTEST_ARGS); status=$$?; $(CASSANDRA) stop; exit $$status

# Tests write what they generate into test-artifacts/ (git-ignored); these copy it into the
# tracked docs/ when a change is worth showing.
docs-screenshots:  ## the browser tests' screenshots (test-artifacts/screenshots) into docs/screenshots
	@ls test-artifacts/screenshots/*.png >/dev/null 2>&1 || { echo "no screenshots yet: run the browser tests (tests/e2e/test_browser.py, test_upload_sources.py)"; exit 1; }
	mkdir -p docs/screenshots
	cp test-artifacts/screenshots/*.png docs/screenshots/

docs-failover:  ## the last `make test-cluster` report into docs/failover.md
	@test -f test-artifacts/failover.md || { echo "no failover report yet: run make test-cluster"; exit 1; }
	cp test-artifacts/failover.md docs/failover.md

# Stand-in base images for deploy/ (no image registry here), built from Debian packages and
# Maven Central jars under the names deploy/ uses; podman installed first when run as root.
# podman-compose for tools/containers/compose.sh without the whole dev install (same pin as
# the dev extra in pyproject.toml).
$(VENV)/bin/podman-compose: | $(PY)
	$(PIP) install "podman-compose==1.6.*"

container-images: $(VENV)/bin/podman-compose
	tools/containers/base-images.sh

# deploy/ built and run for real with podman: the README's manual steps, the compose stack,
# hardening at run time. Figures land in test-artifacts/containers.json.
test-containers: install-dev container-images
	$(PY) -m pytest -m "containers and not slow" tests/containers --durations=0 $(PYTEST_ARGS)

# The training image builds and a short run writes a model into /out (slow: not in make test).
test-containers-train: install-dev container-images
	$(PY) -m pytest -m "containers and slow" tests/containers --durations=0 $(PYTEST_ARGS)

# The service benchmark builds vegeta (Go) into bench/.tools and the peers (BentoML, LitServe)
# into bench/.venv-peers on first use. CASSANDRA_NODE_OFFSET=N benchmarks on a node of its own.
bench: install-dev  ## benchmarks; tables and plots land in docs/benchmarks/
	@command -v go >/dev/null || { echo "bench/service.py builds vegeta with Go: install Go 1.22+"; exit 1; }
	PYTHON=$(abspath $(PY)) $(CASSANDRA) start
	$(PY) bench/model.py
	$(PY) bench/service.py

train: install-dev
	$(VENV)/bin/fashion-classifier train

# The shipped model: the trained CNN fine-tuned for photos and non-garments (resumable).
fine-tune: install-dev
	$(VENV)/bin/fashion-classifier fine-tune

evaluate: install
	$(VENV)/bin/fashion-classifier evaluate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
