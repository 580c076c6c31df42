# Two commands do all the set-up on a fresh machine:
#   make reproduce   offline default of every experiment; regenerates visuals/
#   make test        the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: reproduce finetune study test bench clean

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

# The offline study (docs/study.md): five training seeds of the three models, trained until zeroing attention costs
# them at least 1.2x their bits per byte, swept by test_gpt2.py and fine-tuned by run_glue_test.py; its own report,
# visuals/study/README.md. It resumes where it stopped. STUDY_TRAIN, STUDY_SWEEP and STUDY_GLUE add settings.
study: $(VENV)/.installed
	$(PY) train_bilingual_gpt2.py configs/study_train.py $(STUDY_TRAIN)
	$(PY) test_gpt2.py configs/study_test_gpt2.py $(STUDY_SWEEP)
	$(PY) run_glue_test.py configs/study_glue.py $(STUDY_GLUE)
	$(PY) -m robustness.report --results=results/study --out=visuals/study/README.md --readme= --command='make study'

test: $(VENV)/.installed
	SUITE_RECORD=results/test_suite.json $(PY) -m pytest -q -n auto --dist loadscope --durations=15 tests

clean:
	rm -rf results
