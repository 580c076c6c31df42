# Two commands do all the set-up on a fresh machine:
#   make reproduce   offline default of every experiment; regenerates visuals/
#   make test        the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: reproduce finetune study test bench clean
.PHONY: $(STUDY_TRAINING)

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

reproduce: $(VENV)/.installed
	$(PY) binary_classification.py
	$(PY) non_linear.py
	$(PY) train_bilingual_gpt2.py
	$(PY) tasks/build_tasks.py
	$(PY) test_gpt2.py
	$(PY) run_glue_test.py
	$(PY) -m robustness.report

# The paper's design offline (configs/offline_finetune.py): an English base per training seed, three models fine-tuned
# from each with the paper's tokenizers (the bilingual model a new bilingual BPE), the sweep.
FINETUNED := results/offline_finetune
finetune: $(VENV)/.installed
	$(PY) train_bilingual_gpt2.py --train_models=monolingual --tokenization=own --out_dir=results/offline_base \
		--visuals_dir=visuals/offline_base
	$(PY) train_bilingual_gpt2.py configs/offline_finetune.py
	$(PY) tasks/build_tasks.py
	$(PY) test_gpt2.py --models=monolingual=$(FINETUNED)/monolingual,bilingual=$(FINETUNED)/bilingual,control=$(FINETUNED)/control \
		--eval_files=en=$(FINETUNED)/eval_en.txt,uk=$(FINETUNED)/eval_lang2.txt --calibration_file=$(FINETUNED)/train_en.txt \
		--out_dir=results/test_gpt2_finetune --visuals_dir=visuals/offline_finetune
	$(PY) -m robustness.report

# The offline study (docs/study.md): five training seeds of the three models, trained until zeroing attention costs
# them at least 1.2x their bits per byte, swept by test_gpt2.py and fine-tuned by run_glue_test.py; its own report.
# STUDY_ARM picks the arm: empty, one tokenizer for all three models (results/study, visuals/study/README.md); own,
# the paper's tokenizers (results/study_own, visuals/study_own/README.md); dropout, the positive control (the plain
# monolingual recipe with and without dropout; docs/statistics.md). An arm is its configs: every
# configs/study_<arm>_train*.py trains (at once: they are independent), then configs/study_<arm>_test_gpt2.py sweeps
# and configs/study_<arm>_glue.py, where the arm has one, fine-tunes. The shared and own arms' reports set the other
# arm's verdicts beside their own where that arm has run. Each arm resumes where it stopped. Budget: 100 min an arm on
# 2 cores (the shared arm measured 93.9 min end to end; bench/RESULTS.md).
# STUDY_TRAIN, STUDY_SWEEP and STUDY_GLUE add settings to its scripts. The arm's CSVs, settings and summaries are
# copied into visuals/<arm>/data/ (committed: python -m robustness.analyze redoes its verdicts from a fresh clone).
STUDY_ARM ?=
STUDY := study$(if $(STUDY_ARM),_$(STUDY_ARM))
STUDY_TRAINING := $(patsubst configs/%.py,train-%,$(wildcard configs/$(STUDY)_train*.py))
STUDY_BESIDE := $(if $(filter-out own,$(STUDY_ARM)),,results/$(if $(STUDY_ARM),study,study_own))
study: $(VENV)/.installed
	@test -f configs/$(STUDY)_test_gpt2.py || { echo "STUDY_ARM: no arm '$(STUDY_ARM)' (configs/$(STUDY)_test_gpt2.py does not exist)" >&2; exit 2; }
	$(MAKE) --no-print-directory -j$(words $(STUDY_TRAINING)) $(STUDY_TRAINING)
	$(PY) test_gpt2.py configs/$(STUDY)_test_gpt2.py $(STUDY_SWEEP)
	$(if $(wildcard configs/$(STUDY)_glue.py),$(PY) run_glue_test.py configs/$(STUDY)_glue.py $(STUDY_GLUE))
	$(PY) -m robustness.report --results=results/$(STUDY) --out=visuals/$(STUDY)/README.md --readme= \
		--command='make study$(if $(STUDY_ARM), STUDY_ARM=$(STUDY_ARM))' --arms=$(STUDY_BESIDE)
	$(PY) -m robustness.archive results/$(STUDY) visuals/$(STUDY)/data
	$(PY) -m robustness.report --studies
	$(PY) -m robustness.study_map

train-%:  # one of an arm's trainings (make study runs them, after the virtualenv)
	$(PY) train_bilingual_gpt2.py configs/$*.py $(STUDY_TRAIN)

# The suite, then its tests marked `numeric` (they assert on a trained model's score) again under ATen's plain C++
# kernels: a margin that holds only with this CPU's vector kernels fails here, not on a user's other CPU.
test: $(VENV)/.installed
	SUITE_RECORD=results/test_suite.json $(PY) -m pytest -q -n auto --dist loadscope --durations=15 tests
	ATEN_CPU_CAPABILITY=default $(PY) -m pytest -q -m numeric -p no:cacheprovider $(shell grep -l 'mark.numeric' tests/test_*.py)

clean:
	rm -rf results
