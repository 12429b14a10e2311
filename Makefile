# Thin wrappers: all logic lives in genlab (python -m genlab ...). `make help` lists targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
STAMP := $(VENV)/.genlab-installed

.PHONY: help setup book student-book check-book notebooks test lab slurm serve grade clean

help:
	@echo "make book          set up .venv if missing, run every notebook (PROFILE=$(PROFILE)), build the book"
	@echo "make test          set up .venv if missing, run the test suite"
	@echo "make student-book  build the book with exercise solutions hidden (after make book)"
	@echo "make check-book    open every page of the built book in headless Chromium; fail on broken images/links, JS errors, raw TeX, too-wide pages"
	@echo "make lab           JupyterLab in the project environment"
	@echo "make serve         generation API and web page over outputs/quick (http://127.0.0.1:8000)"
	@echo "make slurm         submit the whole pipeline to Slurm (see README)"
	@echo "make grade SUBMISSIONS=dir   run every submitted notebook with the hidden tests: _build/grades/<dir>/gradebook.csv + feedback/"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e ".[dev]"
	$(PY) -m genlab install-kernel
	@touch $(STAMP)

setup: $(STAMP)

book: setup
	$(PY) -m genlab all --profile $(PROFILE)

notebooks: setup
	$(PY) -m genlab run-notebooks --profile $(PROFILE)

student-book: setup
	$(PY) -m genlab build-book --student

test: setup
	$(PY) -m pytest -q

check-book: setup
	$(PY) -m genlab check-book

lab: setup
	$(PY) -m genlab lab

serve: setup
	$(PY) -m genlab serve --runs outputs/$(PROFILE)

slurm: setup
	bash slurm/submit.sh

SUBMISSIONS ?= submissions
grade: setup
	$(PY) -m genlab grade $(SUBMISSIONS)

clean:
	rm -rf _build
