# nino-stats: `make run` sets up and runs the main job; `make test` sets up and runs the tests; `make ui` opens the UI;
# `make serve` starts the query service.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export NINO_HOME ?= $(CURDIR)/data

# Debian packages the tests drive: LibreOffice reads the ODS tables back, Chromium renders the bulletin, PostgreSQL is
# the production stack's database.
SYSTEM_PACKAGES := libreoffice-calc-nogui chromium fonts-dejavu-core postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test ui serve deploy bench system-packages

$(BIN)/nino: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/nino
	$(BIN)/nino run

system-packages:
	@command -v soffice >/dev/null && command -v chromium >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); }

test: $(BIN)/nino system-packages
	VIRTUAL_ENV=$(CURDIR)/$(VENV) DAGSTER_HOME=$$(mktemp -d) $(BIN)/dg check defs
	$(BIN)/pytest

ui: $(BIN)/nino
	$(BIN)/nino ui

serve: $(BIN)/nino
	$(BIN)/nino serve --home $(NINO_HOME)

# The production stack (code server, webserver, daemon) against the PostgreSQL server NINO_DAGSTER_POSTGRES_URL names;
# docs/deployment.md.
deploy: $(BIN)/nino
	$(BIN)/nino deploy

# The yardstick for speed: the essential work of a backfill as bare DuckDB, kept by the team beside the project.
FLOOR_SCRIPT ?= $(wildcard $(CURDIR)/../shared/bench/floor.sh)

bench: $(BIN)/nino
	$(BIN)/python -m nino_assets.benchmarks --keep $(CURDIR)/data/benchmark --per-partition \
		$(if $(FLOOR_SCRIPT),--floor-script $(FLOOR_SCRIPT))
	$(BIN)/python -m nino_assets.benchmarks.cell_key --warehouse $(CURDIR)/data/benchmark/warehouse/nino.duckdb
	$(BIN)/python -m nino_assets.benchmarks.service --cube "$$(ls -d $(CURDIR)/data/benchmark/outputs/releases/*/service | tail -1)"
