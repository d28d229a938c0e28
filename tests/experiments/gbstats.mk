# `make gbstats-check`: the experiments statistics engine against GrowthBook's gbstats 0.8.0.
# gbstats needs numpy<2 and pandas<2, so it lives in its own virtualenv beside Unico's.
# Include this file after the Makefile's own rules (it uses $(PYTHON) from there).
PYTHON ?= python3.11
GBSTATS_VENV := .unico/gbstats-venv
GBSTATS_PYTHON := $(GBSTATS_VENV)/bin/python
GBSTATS_STAMP := $(GBSTATS_VENV)/.installed

.PHONY: gbstats-check

$(GBSTATS_PYTHON):
	$(PYTHON) -m venv $(GBSTATS_VENV)
	$(GBSTATS_PYTHON) -m pip install --quiet --upgrade pip

$(GBSTATS_STAMP): tests/experiments/gbstats.mk | $(GBSTATS_PYTHON)
	$(GBSTATS_PYTHON) -m pip install --quiet gbstats==0.8.0 'numpy<2' 'pandas<2' scipy pytest
	$(GBSTATS_PYTHON) -m pip install --quiet --no-deps -e .
	touch $(GBSTATS_STAMP)

# pytest with its own configuration (gbstats.ini), rooted at the repository so that
# `tests.experiments` imports; the main run ignores tests/experiments/gbstats_*.py.
gbstats-check: $(GBSTATS_STAMP)
	$(GBSTATS_PYTHON) -m pytest -c tests/experiments/gbstats.ini --rootdir . -q tests/experiments/gbstats_agreement.py
