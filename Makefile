# The README's two commands are `make run` and `make test`; the rest are their parts.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask
export FLASK_APP := app.py

.PHONY: run test venv deps dev-deps assets migrate seed lint lint-js lock db2-ddl system-packages cluster docker bench screenshots clean

# `make run PORT=8080 HOST=0.0.0.0`: the development server's address (CCR_PORT, CCR_HOST).
PORT ?= 5000
HOST ?= 127.0.0.1

run: deps assets migrate seed
	@echo ""
	@echo "  Customer Care Registry: log in at http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)/login"
	@echo "  (demo logins above; Ctrl-C to stop)"
	@echo ""
	CCR_HOST=$(HOST) CCR_PORT=$(PORT) $(PY) app.py

test: dev-deps assets system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(PY)

$(VENV)/.deps: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt -r requirements-dev.txt
	@touch $(VENV)/.deps $@

deps: $(VENV)/.deps

dev-deps: $(VENV)/.dev-deps

static/vendor/.built: package.json package-lock.json scripts/build-assets.mjs
	@command -v npm >/dev/null || { echo "npm is needed to build the front-end assets (install Node.js 18+)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build
	@touch $@

assets: static/vendor/.built

migrate: deps
	$(FLASK) db upgrade

seed: deps
	$(FLASK) ccr seed-demo

system-packages:
	@bash scripts/ensure-system-packages.sh

# The production topology on loopback: nginx -> 3 gunicorn (gevent) processes, Redis,
# PostgreSQL (DATABASE_URL, default the local `test` database) and the outbox worker.
cluster: dev-deps assets
	$(PY) -m scripts.cluster

# Everything CI checks besides the tests (.ci/run); .pre-commit-config.yaml runs the same.
lint: dev-deps lint-js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint --failure-threshold error Dockerfile

# eslint (a devDependency, installed by the assets step's npm ci) over static/js.
lint-js: assets
	npm run --silent lint

# The production image (docs/deploy.md); WITH_DB2=1 adds the Db2 driver and threading mode.
docker:
	docker build $(if $(WITH_DB2),--build-arg WITH_DB2=$(WITH_DB2)) -t ccr .

# Recompile the pinned requirement files after editing a requirements*.in file.
lock: dev-deps
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links requirements.in -o requirements.txt
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links requirements-dev.in -o requirements-dev.txt
	$(VENV)/bin/pip-compile -q --no-emit-index-url --no-emit-find-links requirements-db2.in -o requirements-db2.txt

# The Db2 DDL of every migration, compiled offline (needs requirements-db2.txt).
db2-ddl: dev-deps
	$(PIP) install --quiet -r requirements-db2.txt
	DATABASE_URL=db2+ibm_db://db2inst1:unused@127.0.0.1:50000/CCR $(FLASK) db upgrade --sql > /dev/null
	@echo "Db2 DDL of every revision compiles."

# The benchmark suite (bench/README.md): production server config on 127.0.0.1, about 12
# minutes on 2 cores. SCALE is the ticket count; CCR_TEST_DATABASE_URL adds PostgreSQL runs.
SCALE ?= 1000000
bench: dev-deps assets
	$(PY) -m bench.run --scale $(SCALE)

# The README's screenshots (docs/screenshots/), taken by the browser sweep of every page.
screenshots: dev-deps assets system-packages
	CCR_SCREENSHOTS=1 $(PY) -m pytest -q tests/e2e/test_every_page_browser.py

clean:
	rm -rf $(VENV) node_modules static/vendor test-output
