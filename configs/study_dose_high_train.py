# The map of the effect (`make study STUDY_ARM=dose_high`, docs/study.md "The map"): the shared arm's recipe
# (configs/study_train.py: one shared tokenizer, five training seeds, 2,600 steps) with half of each bilingual batch
# in the second language (8 of 16 sequences). The bilingual model and its control, matched on English bytes; the
# arm's confirmatory row and the map's tests were declared before it ran (docs/statistics.md).
#   python train_bilingual_gpt2.py configs/study_dose_high_train.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_train.py')).read())
train_models = ['bilingual', 'control']
lang2_fraction = 0.5       # 8 of each 16 sequences of a bilingual batch in Ukrainian
out_dir = 'results/study_dose_high/train_bilingual_gpt2'
visuals_dir = 'visuals/study_dose_high'
