# The study's own-tokenizer arm (`make study STUDY_ARM=own`, docs/study.md): configs/study_glue.py with the paper's
# tokenizers, each model a BPE of its own training text, into results/study_own and visuals/study_own.
#   python run_glue_test.py configs/study_own_glue.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_glue.py')).read())
models = models.replace('results/study/', 'results/study_own/')
out_dir = 'results/study_own/run_glue_test'
visuals_dir = 'visuals/study_own'
