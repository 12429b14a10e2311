# Thin wrappers: all logic lives in genlab (python -m genlab ...). `make help` lists targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
STAMP := $(VENV)/.genlab-installed
# Exact versions with hashes (`make lock` refreshes them). UNLOCKED=1 installs from pyproject.toml's ranges instead
# (another Python or platform than the lock's: CPython 3.11, Linux x86_64).
LOCK := requirements.lock
UNLOCKED ?=

.PHONY: help setup lock book student-book check-book notebooks test test-fast lab slurm serve grade handout clean gpu-check

help:
	@echo "make book          set up .venv if missing, run every notebook (PROFILE=$(PROFILE)), build the book"
	@echo "make test          set up .venv if missing, run the test suite"
	@echo "make setup         .venv with the exact versions of requirements.lock (UNLOCKED=1: pyproject.toml's ranges)"
	@echo "make lock          refresh requirements.lock (newest versions pyproject.toml allows, torch per requirements.pins)"
	@echo "make test-fast     the tests not marked slow, notebook or slurm (a few minutes: for each change)"
	@echo "make student-book  build the book with exercise solutions hidden (after make book)"
	@echo "make check-book    open every page of the built book in headless Chromium; fail on broken images/links, JS errors, raw TeX, too-wide pages"
	@echo "make lab           JupyterLab in the project environment"
	@echo "make serve         generation API and web page over outputs/quick (http://127.0.0.1:8000)"
	@echo "make slurm         submit the whole pipeline to Slurm (see README)"
	@echo "make handout       _build/handout/genlab-handout(.zip): student notebooks (no solutions, checks kept), library, setup"
	@echo "make grade SUBMISSIONS=dir   run every submitted notebook with the hidden tests: _build/grades/<dir>/gradebook.csv + feedback/"
	@echo "make gpu-check     on a GPU node: the gpu tests and GPU measurements into _build/gpu_check/"

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
ifeq ($(UNLOCKED),)
	$(PY) -m pip install -r $(LOCK)
	$(PY) -m pip install --no-deps -e .
else
	$(PY) -m pip install -e ".[dev]"
endif
	$(PY) -m genlab install-kernel
	@touch $(STAMP)

setup: $(STAMP)

# Re-resolve the newest versions pyproject.toml allows (torch/torchvision held by requirements.pins), with hashes.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "uv>=0.5"
	$(PY) -m uv pip compile pyproject.toml --extra dev --generate-hashes --no-annotate --no-header \
		--python-version 3.11.7 --python-platform x86_64-manylinux_2_28 -c requirements.pins -o $(LOCK)

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

SUBMISSIONS ?= submissions
grade: setup
	$(PY) -m genlab grade $(SUBMISSIONS)

handout: setup
	$(PY) -m genlab handout

gpu-check: setup
	PYTHONPATH=lib $(PY) benchmarks/gpu_check.py

clean:
	rm -rf _build
