# vigil: two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup install compile demo test test-unit lint stack-up stack-down bench clean

# the Debian packages a fresh machine lacks (deploy/setup/system-packages.txt), installed as root
# or with passwordless sudo, otherwise one line saying what to install; `--dry-run` shows the plan
setup:
	@bash deploy/setup/setup.sh

$(STAMP): pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

install: setup $(STAMP)

# build the mypyc-compiled text detectors again after editing them (until then the edited
# sources run as pure Python); VIGIL_PURE_PYTHON=1 make compile removes the compiled build
compile: install
	rm -f detectors/text/*.so vigil_text__mypyc*.so detectors/text/_compiled_sources.json
	$(BIN)/pip install -q --no-deps -e .

demo: install
	$(BIN)/vigil demo

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -p no:cacheprovider --durations=10 tests

test-unit: install
	$(BIN)/python -m pytest -q -m "not integration" tests

lint: install
	$(BIN)/ruff check .

stack-up: install
	$(BIN)/vigil stack up

stack-down: install
	$(BIN)/vigil stack down

bench: install
	$(BIN)/vigil bench text
	$(BIN)/vigil bench images --quick
	$(BIN)/vigil bench dispatch
	$(BIN)/vigil bench pipeline --quick

clean:
	-$(BIN)/vigil stack down
	rm -rf .stack build *.egg-info detectors/text/*.so vigil_text__mypyc*.so detectors/text/_compiled_sources.json
