# Two commands do all the set-up on a fresh machine:
#   make run    install into .venv, then build every default study with Snakemake
#   make test   install into .venv, then run the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SNAPSHOT ?= ../shared/data/raw
CORES ?= all

.PHONY: install run test report lint clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Offline when the snapshot folder exists (files are read in place); otherwise online.
run: install
	@if [ -d "$(SNAPSHOT)" ]; then \
	  echo "raw files from snapshot $(SNAPSHOT)"; \
	  PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) --config snapshot_dir=$(SNAPSHOT); \
	else \
	  echo "no snapshot at $(SNAPSHOT): downloading raw files from their providers"; \
	  PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES); \
	fi

test: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest

report: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) --config snapshot_dir=$(SNAPSHOT) --report results/report.html

lint: install
	$(BIN)/ruff check src tests workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow

clean:
	rm -rf results .snakemake
