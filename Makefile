# Thin wrappers: all logic lives in genlab (python -m genlab ...). `make help` lists targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
STAMP := $(VENV)/.genlab-installed

.PHONY: help setup book student-book check-book notebooks test test-fast lab slurm serve clean gpu-check

help:
	@echo "make book          set up .venv if missing, run every notebook (PROFILE=$(PROFILE)), build the book"
	@echo "make test          set up .venv if missing, run the test suite"
	@echo "make test-fast     the tests not marked slow, notebook or slurm (a few minutes: for each change)"
	@echo "make student-book  build the book with exercise solutions hidden (after make book)"
	@echo "make check-book    open every page of the built book in headless Chromium; fail on broken images/links, JS errors, raw TeX, too-wide pages"
	@echo "make lab           JupyterLab in the project environment"
	@echo "make serve         generation API and web page over outputs/quick (http://127.0.0.1:8000)"
	@echo "make slurm         submit the whole pipeline to Slurm (see README)"
	@echo "make gpu-check     on a GPU node: the gpu tests and GPU measurements into _build/gpu_check/"

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

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not notebook and not slurm"

check-book: setup
	$(PY) -m genlab check-book

lab: setup
	$(PY) -m genlab lab

serve: setup
	$(PY) -m genlab serve --runs outputs/$(PROFILE)

slurm: setup
	bash slurm/submit.sh

gpu-check: setup
	PYTHONPATH=lib $(PY) benchmarks/gpu_check.py

clean:
	rm -rf _build
