# Haven — one entry point. `make up` runs the system, `make test` runs every test.
# Both create the virtual environment first; nothing else needs installing by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: up test lint unit integration slow chaos bench broker-start broker-stop broker-status topics clean help

help:
	@echo "make up      set up and run broker + intake + matching + notifier (Ctrl-C stops)"
	@echo "make test    set up and run lint and all tests against a real broker"
	@echo "make lint    ruff and mypy only"
	@echo "make chaos   the long kill loop (50+ SIGKILLs over 20+ min; HAVEN_CHAOS_* tune it)"
	@echo "make bench   benchmarks, JSON under bench/results/"
	@echo "make clean   remove var/ (broker data, logs, databases) and the venv"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

up: $(STAMP)
	$(BIN)/haven up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The kill loop (tests/chaos) runs after the other tests, not beside them: run beside
# them (stop 24) one clean-clone run passed, and in the next the shared test broker and
# PostgreSQL went away mid-run for a reason not yet found. Its table is printed (-s).
test: lint
	$(BIN)/python -m pytest -m "not chaos" --durations=20
	$(BIN)/python -m pytest tests/chaos -m chaos -s -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration tests/e2e

slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# The long form of tests/chaos: 2 matching workers, a kill every ~22 s for 22 minutes.
chaos: $(STAMP)
	HAVEN_CHAOS_MINUTES=$${HAVEN_CHAOS_MINUTES:-22} \
	HAVEN_CHAOS_KILL_EVERY_S=$${HAVEN_CHAOS_KILL_EVERY_S:-22} \
	HAVEN_CHAOS_MATCHING_WORKERS=$${HAVEN_CHAOS_MATCHING_WORKERS:-2} \
	HAVEN_CHAOS_SETTLE_S=$${HAVEN_CHAOS_SETTLE_S:-300} \
	$(BIN)/python -m pytest tests/chaos -m chaos -s -p no:cacheprovider -o timeout=3600

bench: $(STAMP)
	$(BIN)/python -m bench

broker-start broker-stop broker-status: $(STAMP)
	$(BIN)/haven broker $(subst broker-,,$@)

topics: $(STAMP)
	$(BIN)/haven topics create

clean:
	-$(BIN)/haven broker stop
	rm -rf var $(VENV)
