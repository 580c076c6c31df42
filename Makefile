# Two commands do all the set-up on a fresh machine:
#   make reproduce   offline default of every experiment; regenerates visuals/
#   make test        the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: reproduce finetune test bench clean

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
	$(PY) -m robustness.report

# The paper's design offline (configs/offline_finetune.py): an English base per training seed, three models fine-tuned from each, the sweep.
FINETUNED := results/offline_finetune
finetune: $(VENV)/.installed
	$(PY) train_bilingual_gpt2.py --train_models=monolingual --out_dir=results/offline_base \
		--visuals_dir=visuals/offline_base
	$(PY) train_bilingual_gpt2.py configs/offline_finetune.py
	$(PY) test_gpt2.py --models=monolingual=$(FINETUNED)/monolingual,bilingual=$(FINETUNED)/bilingual,control=$(FINETUNED)/control \
		--eval_file=$(FINETUNED)/eval_en.txt --calibration_file=$(FINETUNED)/train_en.txt \
		--out_dir=results/test_gpt2_finetune --visuals_dir=visuals/offline_finetune
	$(PY) -m robustness.report

test: $(VENV)/.installed
	SUITE_RECORD=results/test_suite.json $(PY) -m pytest -q -n auto --dist loadscope --durations=15 tests

clean:
	rm -rf results
