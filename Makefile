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
# The pages' catalogs: .po files are committed, .mo files are compiled by `make install`.
TRANSLATIONS := src/entrypoints/web/translations
MO_FILES := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))
# axe-core for the browser tests' accessibility checks, pinned by its own lockfile.
AXE := tests/e2e/axe
AXE_STAMP := $(AXE)/node_modules/.installed
WORKERS ?= 2
BIND ?= 127.0.0.1:8000

.PHONY: install lock node-deps axe-deps translations run serve stack test lint typecheck \
	contracts bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC) --quiet --extra test
	touch $(STAMP)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

install: $(STAMP) $(MO_FILES)

# After marking texts: extract them, and add the new ones to every catalog to translate.
translations: $(STAMP)
	$(BIN)/pybabel extract -F src/entrypoints/web/babel.cfg -k _l -k N_ --no-location \
		--sort-output --project microblog -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
		--ignore-obsolete --no-wrap

lock: | $(UV)
	$(UV) lock

# The dev OIDC provider: Node.js from Debian when missing, its packages from the lockfile.
$(NODE_STAMP): $(DEV_OIDC)/package-lock.json
	bash scripts/install-system-deps node
	npm ci --prefix $(DEV_OIDC) --no-audit --no-fund --loglevel=error
	touch $@

node-deps: $(NODE_STAMP)

$(AXE_STAMP): $(AXE)/package-lock.json
	bash scripts/install-system-deps node
	npm ci --prefix $(AXE) --no-audit --no-fund --loglevel=error
	touch $@

axe-deps: $(AXE_STAMP)

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
	$(MAKE) --no-print-directory node-deps
	$(BIN)/python -m bench.run

test: install
	bash scripts/install-system-deps
	$(MAKE) --no-print-directory node-deps axe-deps
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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(DEV_OIDC)/node_modules \
		$(AXE)/node_modules $(MO_FILES)
