# The study's own-tokenizer arm (`make study STUDY_ARM=own`, docs/study.md): configs/study_train.py with the paper's
# tokenizers, each model a BPE of its own training text, into results/study_own and visuals/study_own.
#   python train_bilingual_gpt2.py configs/study_own_train.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_train.py')).read())
tokenization = 'own'
out_dir = 'results/study_own/train_bilingual_gpt2'
visuals_dir = 'visuals/study_own'
