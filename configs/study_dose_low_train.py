# The map of the effect (`make study STUDY_ARM=dose_low`, docs/study.md "The map"): the shared arm's recipe
# (configs/study_train.py: one shared tokenizer, five training seeds, 2,600 steps) with an eighth of each bilingual
# batch in the second language (2 of 16 sequences; 0.1 would be 1.6). The bilingual model and its control, matched
# on English bytes; the arm's confirmatory row and the map's tests were declared before it ran (docs/statistics.md).
#   python train_bilingual_gpt2.py configs/study_dose_low_train.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_train.py')).read())
train_models = ['bilingual', 'control']
lang2_fraction = 0.125     # 2 of each 16 sequences of a bilingual batch in Ukrainian
out_dir = 'results/study_dose_low/train_bilingual_gpt2'
visuals_dir = 'visuals/study_dose_low'
