# Set-up and entry points. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench bench-quality clean

$(BIN)/mfinpaint: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

demo: $(BIN)/mfinpaint
	$(BIN)/mfinpaint experiment -o results --force

test: $(BIN)/mfinpaint
	$(BIN)/python -m pytest -q

bench: $(BIN)/mfinpaint
	$(BIN)/python benchmarks/speed.py

bench-quality: $(BIN)/mfinpaint
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(VENV) results benchmarks/out
