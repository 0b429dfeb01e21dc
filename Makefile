# The two commands a fresh clone needs: `make demo` (a dry run on the sample data) and
# `make test` (the whole suite). Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/mailer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/mailer
	$(BIN)/mailer check
	$(BIN)/mailer preview invitation --meeting 2027-09-21-hvad-siger-brugerne

test: $(BIN)/mailer
	$(BIN)/python -m pytest
	$(BIN)/ruff check .

lint: $(BIN)/mailer
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Never .mailer/: it holds the journal (what was sent to whom, its backups) and the sign-in.
clean:
	rm -rf $(VENV) outbox
