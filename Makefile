# The two commands a fresh clone needs: `make demo` (a dry run on the sample data) and
# `make test` (the whole suite). Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test wheel lint clean

# The program alone: what `make demo` needs.
$(BIN)/mailer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The test and lint tools on top: what `make test` and `make lint` need.
$(BIN)/pytest: $(BIN)/mailer
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/mailer
	$(BIN)/mailer check
	$(BIN)/mailer preview invitation --meeting 2027-09-21-hvad-siger-brugerne

test: $(BIN)/pytest
	$(BIN)/python -m pytest
	$(BIN)/ruff check .

# The file a coordinator installs mailer from (README: "Install on your own computer").
wheel: $(BIN)/mailer
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

lint: $(BIN)/pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Never .mailer/: it holds the journal (what was sent to whom, its backups) and the sign-in.
clean:
	rm -rf $(VENV) outbox dist build
