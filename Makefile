# Two commands do all the set-up on a fresh machine:
#   make reproduce   offline default of every experiment; regenerates visuals/
#   make test        the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: reproduce test bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

reproduce: $(VENV)/.installed
	$(PY) binary_classification.py
	$(PY) non_linear.py
	$(PY) train_bilingual_gpt2.py
	$(PY) test_gpt2.py
	$(PY) run_glue_test.py

test: $(VENV)/.installed
	$(PY) -m pytest -q -n auto tests

clean:
	rm -rf results
