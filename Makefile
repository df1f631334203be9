# Two commands do all the set-up on a fresh machine:
#   make run    install into .venv, then build every default study with Snakemake
#   make test   install into .venv, then run the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SNAPSHOT ?= ../shared/data/raw
CORES ?= all
# Progress lines only (no input/output lists of every job); `make run QUIET=` shows them all.
QUIET ?= --quiet rules host
CONFIGFILE ?=
CONFIGARG := $(if $(CONFIGFILE),--configfile $(CONFIGFILE),)

.PHONY: install run test report lint clean check-repro bench bytecode

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(MAKE) --no-print-directory bytecode
	touch $@

# The package's bytecode, written ahead (an editable install leaves it to the first import,
# which writes none when PYTHONDONTWRITEBYTECODE is set: then every job of a run compiles the
# modules it imports again). Cheap when nothing changed: only stale files are compiled.
bytecode:
	@$(BIN)/python -m compileall -q src >/dev/null

install: $(VENV)/.installed

# The SLURM executor plugin (extra `cluster`) for the tests of the cluster profile, in a folder
# of its own that only those tests put on Snakemake's path: installed into the venv it would
# be imported by every Snakemake command (it imports pandas: 0.3 s each). Users of a cluster
# install the extra instead: pip install -e ".[cluster]".
CLUSTER_PLUGINS := $(VENV)/cluster-plugins
$(CLUSTER_PLUGINS)/.installed: pyproject.toml $(VENV)/.installed
	rm -rf $(CLUSTER_PLUGINS)
	$(BIN)/python -m pip install -q --no-deps --target $(CLUSTER_PLUGINS) \
	  $$($(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['cluster']))")
	touch $@

# Offline when the snapshot folder exists (files are read in place); otherwise online.
run: install bytecode
	@if [ -d "$(SNAPSHOT)" ]; then \
	  echo "raw files from snapshot $(SNAPSHOT)"; \
	  $(BIN)/dlddrivers check-config $(CONFIGFILE) --no-data --config snapshot_dir=$(SNAPSHOT) >/dev/null && \
	  PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) $(QUIET) $(CONFIGARG) --config snapshot_dir=$(SNAPSHOT); \
	else \
	  echo "no snapshot at $(SNAPSHOT): downloading raw files from their providers"; \
	  $(BIN)/dlddrivers check-config $(CONFIGFILE) --no-data >/dev/null && \
	  PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) $(QUIET) $(CONFIGARG); \
	fi
	@echo ""
	@echo "Done. Read first: $(abspath results)/summary.html"
	@echo "Snakemake report: $(BIN)/snakemake --cores $(CORES) --config snapshot_dir=$(SNAPSHOT) --report results/report.html"

# Reproducibility check: the default workflow twice in two fresh clones of HEAD; every CSV
# under results/ must be byte-identical (timings live in run.json and benchmarks/, not CSVs).
check-repro: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m dlddrivers.repro --snapshot $(abspath $(SNAPSHOT))

# Speed (issue 16): the default run cold, each rule, the no-op, start-up, LMG vs pingouin;
# writes benchmarks/results.json and benchmarks/RESULTS.md (quoted by the README).
bench: install
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/run.py --snapshot $(abspath $(SNAPSHOT)) --cores 2

test: install $(CLUSTER_PLUGINS)/.installed
	DLD_CLUSTER_PLUGINS="$(abspath $(CLUSTER_PLUGINS))" PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest

report: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) --config snapshot_dir=$(SNAPSHOT) --report results/report.html

lint: install
	$(BIN)/ruff check src tests workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow

clean:
	rm -rf results .snakemake
