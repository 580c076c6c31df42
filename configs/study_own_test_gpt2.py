# The study's own-tokenizer arm (`make study STUDY_ARM=own`, docs/study.md): configs/study_test_gpt2.py with the paper's
# tokenizers, each model a BPE of its own training text, into results/study_own and visuals/study_own.
#   python test_gpt2.py configs/study_own_test_gpt2.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_test_gpt2.py')).read())
models, eval_files, calibration_file = (setting.replace('results/study/', 'results/study_own/')
                                        for setting in (models, eval_files, calibration_file))
out_dir = 'results/study_own/test_gpt2'
visuals_dir = 'visuals/study_own'
