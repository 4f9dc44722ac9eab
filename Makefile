# The two README commands: `make demo` and `make test`. Both create or reuse .venv and install
# everything themselves; a stamp keyed on the hash of pyproject.toml + constraints.txt makes the
# second run a no-op.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_KEY := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(STAMP_KEY)
DEMO_OUT ?= .ocforge/demo-build

.PHONY: setup demo test lint conformance clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 -c constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Release the demo to the embedded local Hub (.ocforge/hub): version, commit, counts, ledger, every
# config loaded back at the tag, and an HTML preview of the card. A second run is up to date.
demo: $(STAMP)
	$(BIN)/ocforge release configs/demo/recipe.yaml --repo demo/opencharacter-demo \
		--build-dir $(DEMO_OUT) --preview .ocforge/demo-card

# Two workers (the suite's target machine has 2 cores); a file's tests stay in one worker, so
# each module's servers and tiny models are built once.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# huggingface_hub's and datasets' own tests against `ocforge hub serve` (downloads their sdists;
# not part of `make test`): benchmarks/hub/conformance/run.py, figures in hub/README.md.
conformance: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,conformance]"
	$(BIN)/python benchmarks/hub/conformance/run.py --min-server-pass-ratio 0.97

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .ocforge
