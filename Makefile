PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Python packages come from uv.lock (`make lock` updates it); uv itself from PyPI, pinned.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# --locked: a pyproject.toml changed without `make lock` stops the install instead of drifting.
# --inexact: what the bench added stays.
SYNC := $(UV) sync --locked --inexact --python $(BIN)/python

BENCH_STAMP := $(VENV)/.bench-installed
DEV_OIDC := devtools/oidc-provider
NODE_STAMP := $(DEV_OIDC)/node_modules/.installed
WORKERS ?= 2
BIND ?= 127.0.0.1:8000

.PHONY: install lock node-deps run serve stack test lint typecheck contracts bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC) --quiet --extra test
	touch $(STAMP)

install: $(STAMP)

lock: | $(UV)
	$(UV) lock

# The dev OIDC provider: Node.js from Debian when missing, its packages from the lockfile.
$(NODE_STAMP): $(DEV_OIDC)/package-lock.json
	bash scripts/install-system-deps node
	npm ci --prefix $(DEV_OIDC) --no-audit --no-fund --loglevel=error
	touch $@

node-deps: $(NODE_STAMP)

# Without Node.js, `microblog dev` says so and serves the dev OpenID provider only.
run: install
	-@$(MAKE) --no-print-directory node-deps
	$(BIN)/microblog dev

# Production: gunicorn, configured by MICROBLOG_* (MICROBLOG_ENV=production needs MICROBLOG_SECRET_KEY).
serve: install
	$(BIN)/gunicorn --config python:entrypoints.cli.gunicorn_config --workers $(WORKERS) --bind $(BIND) \
		'entrypoints.app:create_app()'

# The production shape on this machine: PostgreSQL, Redis, two instances, nginx in front.
stack: install
	bash scripts/install-system-deps stack
	$(BIN)/python -m devtools.stack

$(BENCH_STAMP): $(STAMP)
	$(SYNC) --quiet --extra test --extra bench
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	bash scripts/install-system-deps bench
	$(BIN)/python -m bench.run

test: install
	bash scripts/install-system-deps
	$(MAKE) --no-print-directory node-deps
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench devtools
	$(BIN)/ruff format --check src tests bench devtools

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(DEV_OIDC)/node_modules
